"""`mdrive widom`: excess chemical potential by test-particle insertion (fix widom) during NVT MD.

Two kinds of runs: a structure with a potential (metal units, μ_ex in eV), or the Lennard-Jones fluid in
reduced units (inputs/widom-lj.in), checked against the JZG equation of state (docs/protocols §4.4).
μ_ex averages Boltzmann factors over fix widom's invocations; its error comes from block averages.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mdrive import decks, lj_eos, metrics
from mdrive.ensemble import Job
from mdrive.errors import InputError
from mdrive.manifest import write_text
from mdrive.protocols.mc import LJFluid, Species, elements_with, full_energy, kt, md_defaults, widom_mu
from mdrive.run import read_run_log
from mdrive.structures import Structure, formula

MU_COLUMN = "f_mdrive_widom[1]"
COLUMNS = ["run", "status", "cause", "temperature", "density", "n_atoms", "mu_ex", "mu_ex_err", "mu_tail",
           "mu_ex_full", "mu_ex_jzg", "z_score", "pressure", "pressure_jzg", "temp_mean", "samples"]


@dataclass(frozen=True)
class WidomParams:
    temperature: float  # K, or reduced (LJ)
    steps: int = 50000  # sampling steps
    equilibrate: int = 5000
    every: int = 10  # steps between invocations
    insertions: int = 200  # test insertions per invocation
    timestep: float | None = None  # ps or τ; None: 1 fs (0.5 fs with H), 0.005 τ
    tdamp: float | None = None  # ps or τ; None: 100 timesteps
    seed: int = 12345
    blocks: int = 10

    def check(self) -> None:
        if self.temperature <= 0:
            raise InputError(f"--temperature must be positive (got {self.temperature})")
        for name in ("steps", "every", "insertions", "blocks"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name} must be at least 1 (got {getattr(self, name)})")
        if self.equilibrate < 0:
            raise InputError(f"--equilibrate must be 0 or more (got {self.equilibrate})")
        if self.steps // self.every < 2 * self.blocks:
            raise InputError(f"--steps {self.steps} / --every {self.every} gives fewer than {2 * self.blocks} "
                             f"samples for {self.blocks} blocks; run longer")
        if not 0 < self.seed < 2 ** 31:
            raise InputError(f"--seed must be an integer in 1..2147483647 (got {self.seed})")

    def variables(self, lj: bool, has_hydrogen: bool = False) -> dict:
        dt, tdamp = md_defaults(lj, has_hydrogen)
        return {"seed": self.seed, "temperature": self.temperature, "dt": self.timestep or dt,
                "tdamp": self.tdamp or tdamp, "equilibrate": self.equilibrate, "steps": self.steps,
                "every": self.every, "thermo_every": self.every, "insertions": self.insertions}


def lj_jobs(points: list[tuple[float, float]], fluid: LJFluid, params: WidomParams) -> list[Job]:
    jobs = []
    for t, rho in points:
        p = WidomParams(**{**asdict(params), "temperature": t})
        f = LJFluid(rho, fluid.cutoff, fluid.cells)
        variables = {**p.variables(lj=True), **f.variables(), "type": 1, "widom_options": ""}
        n = 4 * f.cells ** 3
        info = {"protocol": "widom", "kind": "lj", "run": f"lj-T{t:g}-rho{rho:g}", "temperature": t,
                "density": rho, "cutoff": f.cutoff, "n_atoms": n, "kt": t, "blocks": p.blocks}
        jobs.append(Job(info["run"], decks.composer("widom-lj.in", variables), info, cost=n * (p.steps + p.equilibrate),
                        templates=("widom-lj.in",)))
    return jobs


def structure_jobs(structures: list[Structure], potential, sp: Species, params: WidomParams) -> list[Job]:
    jobs = []
    for s in structures:
        elements = elements_with(s, sp)
        variables = {**params.variables(False, s.has_hydrogen), "type": sp.type_id(elements),
                     "widom_options": "full_energy" if full_energy(potential) else ""}
        info = {"protocol": "widom", "kind": "structure", "run": s.name, "structure": s.name, "species": sp.name,
                "temperature": params.temperature, "n_atoms": len(s.atoms), "formula": formula(s.atoms),
                "density": None, "kt": kt(params.temperature, False), "blocks": params.blocks}
        compose = decks.composer("widom.in", variables, potential=potential, structure=s, elements=elements)
        jobs.append(Job(s.name, compose, info,
                        cost=len(s.atoms) * (params.steps + params.insertions * params.steps / params.every),
                        worker=potential.worker_setup(elements), templates=("widom.in",)))
    return jobs


# --- results ---------------------------------------------------------------------------------------


def analyze(run_dir: Path, info: dict, error: str | None = None) -> dict:
    out = {k: info.get(k) for k in ("run", "temperature", "density", "n_atoms")}
    out.update(status="error", cause=None, mu_ex=None, mu_ex_err=None, samples=0)
    log, error = read_run_log(run_dir, error)
    sampling = log.runs[-1].thermo if log and log.runs else pd.DataFrame()
    if MU_COLUMN in sampling:
        rows = sampling.iloc[1:]  # the first row is printed before the first invocation (zeros)
        out["samples"] = int(len(rows))
        out["mu_ex"], out["mu_ex_err"] = widom_mu(rows[MU_COLUMN].to_numpy(), info["kt"], info["blocks"])
        out["temp_mean"] = float(rows["Temp"].mean())
        out["pressure"] = float(rows["Press"].mean())
    if error:
        out["status"], out["cause"] = metrics.classify_error(error)
    elif out["mu_ex"] is not None and np.isfinite(out["mu_ex"]) and log.runs[-1].ended == "completed":
        out["status"] = "valid"
    else:
        out["status"], out["cause"] = "censored", "stopped before the sampling finished"
    if info["kind"] == "lj" and out.get("pressure") is not None:
        out.update(lj_reference(out, info))
    return out


def lj_reference(out: dict, info: dict) -> dict:
    """The LJ run next to JZG: tail-corrected μ_ex and P, the EOS values, and the z-score of μ."""
    t, rho, rc = info["temperature"], info["density"], info["cutoff"]
    full = out["mu_ex"] + lj_eos.mu_tail(rho, rc)
    jzg = lj_eos.mu_excess(t, rho)
    return {"mu_tail": lj_eos.mu_tail(rho, rc), "mu_ex_full": full, "mu_ex_jzg": jzg,
            "z_score": (full - jzg) / out["mu_ex_err"] if out["mu_ex_err"] else None,
            "pressure": out["pressure"] + lj_eos.pressure_tail(rho, rc), "pressure_jzg": lj_eos.pressure(t, rho)}


def write_results(out: Path, rows: list[dict]) -> tuple[str, dict]:
    table = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in table:
            table[col] = None
    table = table[COLUMNS].sort_values("run").reset_index(drop=True)
    write_text(out / "widom.csv", table.to_csv(index=False))
    head = {r["run"]: {k: r[k] for k in ("status", "mu_ex", "mu_ex_err", "mu_ex_full", "mu_ex_jzg", "z_score")
                       if r[k] is not None and not (isinstance(r[k], float) and np.isnan(r[k]))}
            for r in table.to_dict("records")}
    lines = []
    for run, h in head.items():
        if "mu_ex" not in h:
            lines.append(f"{run}: {h['status']}")
            continue
        text = f"{run}: mu_ex = {h['mu_ex']:.4f} ± {h['mu_ex_err']:.4f}"
        if "mu_ex_jzg" in h:
            text += (f" (+ tail = {h['mu_ex_full']:.4f}; JZG {h['mu_ex_jzg']:.4f}, "
                     f"{h.get('z_score', float('nan')):+.1f} σ)")
        lines.append(text)
    return "\n".join(lines), head
