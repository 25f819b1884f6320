"""`mdrive widom`: excess chemical potential by test-particle insertion (fix widom) during NVT MD.

Two kinds of runs: a structure with a potential (metal units, μ_ex in eV), or the Lennard-Jones fluid in
reduced units (inputs/widom-lj.in), checked against the JZG equation of state (docs/protocols §4.4).
μ_ex averages Boltzmann factors over fix widom's invocations; its error comes from block averages.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from mdrive import decks, lj_eos, mc_engine, metrics
from mdrive.errors import InputError
from mdrive.jobs import Job, read_run_log, run_tables
from mdrive.manifest import write_text
from mdrive.params import param
from mdrive.protocol import Protocol, Study, need_two_atoms, read_structures
from mdrive.protocols.mc import (
    LJFluid,
    MCParams,
    Species,
    covered_species,
    elements_with,
    engine_trace,
    full_energy,
    kt,
    running_mu,
    widom_mu,
)
from mdrive.protocols.mc import engine as choose_engine
from mdrive.structures import Structure, formula
from mdrive.study_kinds import Metric

MU_COLUMN = "f_mdrive_widom[1]"
CONVERGENCE = "convergence.csv"
TABLE, PLOT = "widom.csv", "widom.png"
COLUMNS = ["run", "status", "cause", "temperature", "density", "n_atoms", "mu_ex", "mu_ex_err", "mu_tail",
           "mu_ex_full", "mu_ex_jzg", "z_score", "pressure", "pressure_jzg", "temp_mean", "samples"]


@dataclass(frozen=True)
class WidomParams(MCParams):
    temperature: tuple[float, ...] = param((), "temperature; a list with --lj gives one run per state point",
                                          dim="temperature", many=True, above=0, max=1e5)
    density: tuple[float, ...] = param((), "--lj: reduced number density, a list gives one run per state point",
                                       dim="number_density", many=True, above=0, reduced_only=True)
    steps: int = param(50000, "MD steps sampled", min=1, max=2_000_000_000)
    equilibrate: int = param(5000, "MD steps before sampling", min=0, max=2_000_000_000)
    insertions: int = param(200, "test insertions per invocation", min=1, max=1_000_000)
    blocks: int = param(10, "blocks for the error estimate", min=2, max=1000)

    def check(self) -> None:
        super().check()
        if not self.temperature:
            raise InputError("give --temperature (K; reduced with --lj), e.g. --temperature 300K")
        if self.steps // self.every < 2 * self.blocks:
            raise InputError(f"--steps {self.steps} / --every {self.every} gives fewer than {2 * self.blocks} "
                             f"samples for {self.blocks} blocks; run longer")
        if not self.lj and (len(self.temperature) != 1 or self.density):
            raise InputError("--density and lists of --temperature are for --lj; give one --temperature in K")

    def points(self) -> list[tuple[float, float]]:
        """(T, ρ) state points of --lj runs: lists of equal length, or one value shared."""
        temperatures, densities = list(self.temperature), list(self.density)
        if not densities:
            raise InputError("--lj needs --density (reduced number density, e.g. 0.5)")
        if len(temperatures) == 1:
            temperatures = temperatures * len(densities)
        if len(densities) == 1:
            densities = densities * len(temperatures)
        if len(temperatures) != len(densities):
            raise InputError(f"--temperature has {len(temperatures)} values and --density {len(densities)}; "
                             f"give one of each per state point (or one to share)")
        return list(zip(temperatures, densities))

    def variables(self, temperature: float, has_hydrogen: bool = False, engine: str = "fix") -> dict:
        return {"seed": self.seed, "temperature": temperature, **self.md(has_hydrogen),
                "equilibrate": self.equilibrate, "steps": self.steps, "every": self.every,
                "thermo_every": self.every, "insertions": self.insertions, "engine": engine}

    def engine_config(self, temperature: float, elements: list[str], kind: int) -> mc_engine.Config:
        return mc_engine.Config("widom", kind, elements, self.steps, self.every, temperature, self.seed,
                                insertions=self.insertions, equilibrate=self.equilibrate, audit=self.audit)


def lj_jobs(params: WidomParams) -> list[Job]:
    jobs = []
    for t, rho in params.points():
        f = LJFluid(rho, params.cutoff, params.cells)
        f.check()
        variables = {**params.variables(t), **f.variables(), "type": 1, "widom_options": "", "engine": "fix"}
        n = 4 * f.cells ** 3
        info = {"protocol": "widom", "kind": "lj", "run": f"lj-T{t:g}-rho{rho:g}", "temperature": t,
                "density": rho, "cutoff": f.cutoff, "n_atoms": n, "kt": t, "blocks": params.blocks}
        jobs.append(Job(info["run"], decks.composer("widom-lj.in", variables), info,
                        cost=n * (params.steps + params.equilibrate), templates=("widom-lj.in",)))
    return jobs


def structure_jobs(structures: list[Structure], potential, sp: Species, params: WidomParams,
                   engine: str = "fix") -> list[Job]:
    jobs = []
    t = params.temperature[0]
    for s in structures:
        elements = elements_with(s, sp)
        variables = {**params.variables(t, s.has_hydrogen, engine), "type": sp.type_id(elements),
                     "widom_options": "full_energy" if full_energy(potential) else ""}
        info = {"protocol": "widom", "kind": "structure", "run": s.name, "structure": s.name, "species": sp.name,
                "temperature": t, "n_atoms": len(s.atoms), "formula": formula(s.atoms), "engine": engine,
                "density": None, "kt": kt(t, False), "blocks": params.blocks,
                "equilibrate": params.equilibrate, "steps": params.steps}
        files, worker = {}, potential.worker_setup(elements)
        if engine == "exact":
            files[mc_engine.CONFIG] = params.engine_config(t, elements, sp.type_id(elements)).text()
            worker = replace(worker, driver="mc")
        compose = decks.composer("widom.in", variables, potential=potential, structure=s, elements=elements,
                                 files=files)
        jobs.append(Job(s.name, compose, info,
                        cost=len(s.atoms) * (params.steps + params.insertions * params.steps / params.every),
                        worker=worker, templates=("widom.in",)))
    return jobs


def plan(params: WidomParams, run) -> Study:
    params.lj_or_structures(run)
    if params.lj:
        if params.engine == "exact":
            raise InputError("widom --lj runs fix widom (LJ is pairwise: its trials are exact there); give no "
                             "--engine exact")
        return Study(lj_jobs(params))
    potential = run.load_potential("eam:Cu_u3.eam")
    sp = covered_species(params.species, potential)
    structs, _ = read_structures(run, potential, elements_of=lambda s: elements_with(s, sp))
    need_two_atoms(structs, "widom's NVT sampling")
    chosen = choose_engine(structs[0], potential, sp, params, deletions=False)
    jobs = structure_jobs(structs, potential, sp, params, chosen["mc_engine"]["engine"])
    return Study(jobs, potential, structs, provenance=chosen)


# --- results ---------------------------------------------------------------------------------------


def analyze(run_dir: Path, info: dict, error: str | None = None) -> dict:
    result = {k: info.get(k) for k in ("run", "temperature", "density", "n_atoms")}
    result.update(status="error", cause=None, mu_ex=None, mu_ex_err=None, samples=0)
    log, error = read_run_log(run_dir, error)
    sampling = log.runs[-1].thermo if log and log.runs else pd.DataFrame()
    if info.get("engine") == "exact":
        sampling = _engine_rows(run_dir)
    if MU_COLUMN in sampling:
        # fix widom prints a row before its first invocation (zeros); the engine a row per invocation only
        rows = sampling if info.get("engine") == "exact" else sampling.iloc[1:]
        result["samples"] = int(len(rows))
        result["mu_ex"], result["mu_ex_err"] = widom_mu(rows[MU_COLUMN].to_numpy(), info["kt"], info["blocks"])
        write_text(run_dir / CONVERGENCE, running_mu(rows[MU_COLUMN].to_numpy(), info["kt"]).to_csv(index=False))
        result["temp_mean"] = float(rows["Temp"].mean())
        result["pressure"] = float(rows["Press"].mean())
    if error:
        result["status"], result["cause"] = metrics.classify_error(error)
    elif result["mu_ex"] is not None and np.isfinite(result["mu_ex"]) and _finished(log, sampling, info):
        result["status"] = "valid"
    elif _finished(log, sampling, info):
        finite = int(np.isfinite(sampling[MU_COLUMN].iloc[1:]).sum()) if MU_COLUMN in sampling else 0
        result["status"], result["cause"] = "censored", (
            f"sampling finished, but only {finite} of {result['samples']} invocations had an insertion that did not "
            f"overlap (finite μ); {2 * info['blocks']} are needed: sample longer, more --insertions, or a less "
            f"dense structure")
    else:
        result["status"], result["cause"] = "censored", "stopped before the sampling finished"
    if info["kind"] == "lj" and result.get("pressure") is not None:
        result.update(lj_reference(result, info))
    return result


def _engine_rows(run_dir: Path) -> pd.DataFrame:
    """The exact engine's rows in fix widom's column names (whole rows only: see gcmc.engine_trace)."""
    rows = engine_trace(run_dir)
    if rows is None:
        return pd.DataFrame()
    return rows.rename(columns={"mu_ex": MU_COLUMN, "temp": "Temp", "press": "Press", "step": "Step"})


def _finished(log, sampling: pd.DataFrame, info: dict) -> bool:
    if info.get("engine") == "exact":
        return "Step" in sampling and len(sampling) > 0 and int(sampling["Step"].iloc[-1]) >= (
            info["equilibrate"] + info["steps"])
    return bool(log and log.runs and log.runs[-1].ended == "completed")


def lj_reference(result: dict, info: dict) -> dict:
    """The LJ run next to JZG: tail-corrected μ_ex and P, the EOS values, and the z-score of μ."""
    t, rho, rc = info["temperature"], info["density"], info["cutoff"]
    full = result["mu_ex"] + lj_eos.mu_tail(rho, rc)
    jzg = lj_eos.mu_excess(t, rho)
    return {"mu_tail": lj_eos.mu_tail(rho, rc), "mu_ex_full": full, "mu_ex_jzg": jzg,
            "z_score": (full - jzg) / result["mu_ex_err"] if result["mu_ex_err"] else None,
            "pressure": result["pressure"] + lj_eos.pressure_tail(rho, rc), "pressure_jzg": lj_eos.pressure(t, rho)}


def write_results(out: Path, rows: list[dict], params: WidomParams | None = None) -> tuple[str, dict]:
    table = pd.DataFrame(rows).reindex(columns=COLUMNS).sort_values("run").reset_index(drop=True)
    write_text(out / TABLE, table.to_csv(index=False))
    curves = run_tables(out, CONVERGENCE)
    if curves is not None and not curves.empty:
        from mdrive import plots
        from mdrive.manifest import atomic_path

        write_text(out / CONVERGENCE, curves.to_csv(index=False))
        with atomic_path(out / PLOT) as tmp:
            plots.widom_convergence(curves, table, tmp)
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


class RunHeadline(TypedDict, total=False):
    """One run's line of the headline (manifest["headline"][run]); numbers only where the run gave them."""

    status: str
    mu_ex: float  # eV (reduced under --lj)
    mu_ex_err: float
    mu_ex_full: float  # --lj: with the tail correction
    mu_ex_jzg: float  # --lj: the Johnson-Zollweg-Gubbins equation of state's
    z_score: float


class Widom(Protocol):
    name = "widom"
    help = "excess chemical potential by Widom test insertions"
    description = (
        "Excess chemical potential by test insertions (fix widom) during NVT MD: a STRUCTURE with --potential and "
        "--species, or --lj, the Lennard-Jones validation case in reduced units compared with the "
        "Johnson-Zollweg-Gubbins equation of state; comma lists of --temperature/--density give one run per "
        "state point, spread over MPI groups. widom.csv holds mu_ex and mu_ex_err (block averages).")
    params = WidomParams
    reduced_by = "lj"
    outputs = (TABLE, CONVERGENCE, PLOT)
    headline = dict[str, RunHeadline]
    metrics = (Metric("widom_mu_ex", "Widom μex (eV)"), Metric("widom_mu_ex_err", "Widom ± (eV)"))

    plan = staticmethod(plan)
    analyze = staticmethod(analyze)
    summarize = staticmethod(write_results)

    def scores(self, headline: Mapping, parameters: Mapping) -> dict:
        """The first run that gave μex."""
        done = [v for v in headline.values() if isinstance(v, dict) and v.get("mu_ex") is not None]
        return {"widom_mu_ex": done[0]["mu_ex"], "widom_mu_ex_err": done[0].get("mu_ex_err")} if done else {}


KIND = Widom()
