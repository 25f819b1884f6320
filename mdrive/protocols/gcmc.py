"""`mdrive gcmc`: hybrid MD / grand-canonical MC (fix gcmc, optionally fix atom/swap), one run per reservoir
point (an isotherm), spread over MPI groups.

The reservoir is fix gcmc's: a chemical potential μ (its ideal part from the species' de Broglie
wavelength) or an ideal-gas pressure P (fugacity; activity z = P/kT). Structures run in metal units, with
full_energy (every trial a full energy evaluation, as many-body and ML potentials need) unless the style is
pairwise; the Lennard-Jones fluid (--lj) runs in reduced units.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from mdrive import decks, mc_engine, metrics, units
from mdrive.errors import InputError
from mdrive.jobs import Job, read_run_log, run_tables
from mdrive.manifest import write_text
from mdrive.params import param
from mdrive.protocol import Protocol, Study, need_two_atoms, read_structures
from mdrive.protocols.li_graphite import VOLTAGE, VOLTAGE_PLOT
from mdrive.protocols.mc import (
    MOLECULE,
    LJFluid,
    MCParams,
    Species,
    covered_species,
    elements_with,
    engine_trace,
    full_energy,
)
from mdrive.protocols.mc import engine as choose_engine
from mdrive.run_setup import Setup
from mdrive.structures import Structure, formula

TRACE = "trace.csv"
ISOTHERM, TRACES, PLOT = "isotherm.csv", "gcmc.csv", "isotherm.png"
GCMC = "f_mdrive_gcmc"
MAX_RESERVOIR_GPA = 0.1  # fix gcmc treats the reservoir as an ideal gas: beyond 1000 bar it is not one
ISOTHERM_COLUMNS = ["run", "status", "cause", "reservoir", "value", "unit", "temperature", "n_mean", "n_err",
                    "density_mean", "pe_mean", "acc_insert", "acc_delete", "acc_translate", "acc_swap", "samples",
                    "n_drift", "flag"]
VOLTAGE_COLUMNS = ["voltage", "x_mean", "x_err"]  # --preset li-graphite's runs only: other folders keep their table


@dataclass(frozen=True)
class GcmcParams(MCParams):
    temperature: float | None = param(None, "temperature", dim="temperature", above=0, max=1e5)
    mu: tuple[float, ...] = param((), "reservoir chemical potential(s), fix gcmc's: one run each", dim="energy",
                                  many=True, aliases=("--mus",))
    pressure: tuple[float, ...] = param((), "reservoir ideal-gas pressure(s): one run each (an ideal gas: at most "
                                        "1000 bar)", dim="pressure", many=True, above=0, max=MAX_RESERVOIR_GPA,
                                        aliases=("--pressures",))
    exchanges: int = param(10, "insert/delete attempts per invocation", min=0, max=1_000_000)
    moves: int = param(10, "MC translations per invocation", min=0, max=1_000_000)
    displace: float = param(0.5, "largest MC translation", dim="length", above=0, max=10.0)
    overlap: float | None = param(None, "reject insertions and translations closer than this to any atom (fix "
                                  "gcmc's overlap_cutoff): keeps trials out of a potential's unphysical core",
                                  dim="length", above=0, max=10.0)
    candidates: str = param("uniform", "where insertions are tried: uniform in the cell (fix gcmc's), or voronoi: "
                            "around the Voronoi vertices of the other atoms (a host's voids, e.g. graphite's "
                            "galleries), the acceptance divided by that choice's density (exact engine)",
                            choices=("uniform", "voronoi"))
    site_sigma: float = param(0.3, "--candidates voronoi: spread of a candidate around its site", dim="length",
                              above=0, max=2.0)
    swap: str | None = param(None, "also swap elements A and B (fix atom/swap)", str, metavar="A:B")
    swaps: int = param(10, "swap attempts per invocation", min=1, max=1_000_000)
    equilibrate: int | None = param(None, "MD steps at the start of each run left out of the averages (default: "
                                    "the first half of the run)", int, min=0, max=2_000_000_000)
    density: float = param(0.1, "--lj: starting reduced number density", dim="number_density", above=0,
                           reduced_only=True)
    preset: str = param("none", "li-graphite: seed 001's Li intercalation in graphite (builds the cell; --voltage "
                        "gives the chains; README)", choices=("none", "li-graphite"))
    voltage: tuple[float, ...] = param((), "li-graphite: electrode potentials in V vs Li/Li+, one chain each",
                                       many=True, min=-5.0, max=5.0, aliases=("--voltages",))
    layers: int = param(2, "li-graphite: graphite layers (even); --cells sets the in-plane repeats", min=2, max=200)

    def check(self) -> None:
        super().check()
        if self.preset != "none":
            self._check_preset()
            return
        if self.voltage:
            raise InputError("--voltage is for --preset li-graphite; give --mu or --pressure")
        if self.temperature is None:
            raise InputError("give --temperature (K; reduced with --lj), e.g. --temperature 300K")
        if bool(self.mu) == bool(self.pressure):
            raise InputError("give the reservoir as --mu VALUE[,...] or --pressure VALUE[,...] (one of them)")
        if self.equilibrate is not None and self.equilibrate >= self.steps:
            raise InputError(f"--equilibrate {self.equilibrate} leaves none of the {self.steps} --steps to average")
        if self.exchanges + self.moves == 0:
            raise InputError("--exchanges and --moves are both 0: nothing would be sampled")
        if self.swap and (len(self.swap.split(":")) != 2 or len(set(self.swap.split(":"))) != 2):
            raise InputError(f"--swap {self.swap}: write two different elements as A:B, e.g. --swap Cu:Ni")

    def _check_preset(self) -> None:
        if self.mu or self.pressure or self.lj:
            raise InputError("--preset li-graphite sets the reservoir from --voltage (V vs Li/Li+): give no --mu, "
                             "--pressure or --lj")
        if not self.voltage:
            raise InputError("--preset li-graphite needs --voltage V[,V...] (V vs Li/Li+), e.g. --voltage 0.3,0.1,0")
        if self.species not in (None, "Li"):
            raise InputError(f"--preset li-graphite inserts Li, not {self.species}")

    @property
    def reservoir(self) -> str:
        return "mu" if self.mu else "pressure"

    @property
    def values(self) -> tuple[float, ...]:
        """The reservoir values in the deck's units: eV or bar (metal), reduced (LJ)."""
        if self.mu or self.lj:
            return self.mu or self.pressure
        return tuple(units.to_lammps(p, "pressure") for p in self.pressure)

    @property
    def unit(self) -> str:
        return "reduced" if self.lj else units.unit("energy" if self.mu else "pressure")

    @property
    def swap_pair(self) -> tuple[str, str] | None:
        return tuple(self.swap.split(":")) if self.swap else None

    def variables(self, value: float, has_hydrogen: bool = False, full: bool = False, engine: str = "fix") -> dict:
        options = ("full_energy" if full else "") + (f" pressure {value:g}" if self.reservoir == "pressure" else "")
        options += f" overlap_cutoff {self.overlap:g}" if self.overlap else ""
        return {"seed": self.seed, "temperature": self.temperature, **self.md(has_hydrogen), "steps": self.steps,
                "every": self.every, "thermo_every": self.every,
                "exchanges": self.exchanges, "moves": self.moves, "displace": self.displace,
                "mu": value if self.reservoir == "mu" else 0.0, "gcmc_options": options.strip(),
                "swap": "no", "swaps": self.swaps, "swap_a": 0, "swap_b": 0, "swap_columns": "", "engine": engine,
                "md_style": "nvt", "md_options": ""}

    def engine_config(self, value: float, elements: list[str], kind: int) -> mc_engine.Config:
        """What mdrive's exact engine does in one run (mc-engine.json), in the deck's units."""
        swap = tuple(elements.index(e) + 1 for e in self.swap_pair) if self.swap else None
        return mc_engine.Config(
            "gcmc", kind, elements, self.steps, self.every, self.temperature, self.seed,
            mu=value if self.reservoir == "mu" else None, pressure=value if self.reservoir == "pressure" else None,
            exchanges=self.exchanges, moves=self.moves, displace=self.displace, swap=swap, swaps=self.swaps,
            audit=self.audit, overlap=self.overlap, candidates=self.candidates, site_sigma=self.site_sigma)


def point_name(params: GcmcParams, value: float) -> str:
    return f"{'mu' if params.reservoir == 'mu' else 'p'}{value:g}"


def lj_jobs(params: GcmcParams) -> list[Job]:
    fluid = LJFluid(params.density, params.cutoff, params.cells)
    fluid.check()
    engine = "exact" if params.engine == "exact" else "fix"  # fix gcmc scores LJ trials exactly (pairwise)
    jobs = []
    for value in params.values:
        variables = {**params.variables(value, engine=engine), **fluid.variables(), "type": 1}
        name = f"lj-T{params.temperature:g}-{point_name(params, value)}"
        info = _info(name, params, value, engine, {"n_atoms": 4 * fluid.cells ** 3, "elements": ["LJ"], "lj": True})
        files, worker = _engine_parts(params, engine, value, ["LJ"], 1, None)
        jobs.append(Job(name, decks.composer("gcmc-lj.in", variables, files=files), info,
                        cost=params.steps * (1 + params.exchanges + params.moves), worker=worker,
                        templates=("gcmc-lj.in",)))
    return jobs


def structure_jobs(structures: list[Structure], potential, sp: Species, params: GcmcParams,
                   engine: str = "fix", md: dict | None = None) -> list[Job]:
    """One run per structure and reservoir value; `md` replaces the MD between invocations (md_style, md_options)."""
    jobs = []
    for s in structures:
        elements = elements_with(s, sp)
        for value in params.values:
            variables = {**params.variables(value, s.has_hydrogen, full_energy(potential), engine), **(md or {}),
                         "type": sp.type_id(elements),
                         "atom_style": "full" if sp.molecule is not None else "atomic",
                         "molecule": "yes" if sp.molecule is not None else "no"}
            files, worker = _engine_parts(params, engine, value, elements, sp.type_id(elements),
                                          potential.worker_setup(elements))
            if sp.molecule is not None:
                variables["gcmc_options"] += " mol mdrive_mol"
                files[MOLECULE] = sp.template(elements)
            if params.swap and engine == "fix":
                a, b = (elements.index(e) + 1 for e in params.swap_pair)
                variables.update(swap="yes", swap_a=a, swap_b=b,
                                 swap_columns="f_mdrive_swap[1] f_mdrive_swap[2]")
            name = f"{s.name}-{point_name(params, value)}"
            info = _info(name, params, value, engine, {"n_atoms": len(s.atoms), "formula": formula(s.atoms),
                                                       "structure": s.name, "elements": elements, "lj": False,
                                                       "atom_style": variables["atom_style"]})
            compose = decks.composer("gcmc.in", variables, potential=potential, structure=s, files=files,
                                     elements=elements)
            jobs.append(Job(name, compose, info,
                            cost=len(s.atoms) * params.steps * (1 + (params.exchanges + params.moves) / params.every),
                            worker=worker, templates=("gcmc.in",)))
    return jobs


def _engine_parts(params: GcmcParams, engine: str, value: float, elements: list[str], kind: int, worker):
    """The run's generated files and process set-up: the exact engine's configuration and driver, or none."""
    worker = worker or Setup()
    if engine != "exact":
        return {}, worker
    config = params.engine_config(value, elements, kind)
    return {mc_engine.CONFIG: config.text()}, replace(worker, driver="mc")


def _info(name: str, params: GcmcParams, value: float, engine: str, extra: dict) -> dict:
    return {"protocol": "gcmc", "run": name, "reservoir": params.reservoir, "value": value, "unit": params.unit,
            "temperature": params.temperature, "equilibrate": params.equilibrate, "engine": engine,
            "steps": params.steps, **extra}


# --- results ---------------------------------------------------------------------------------------


def analyze(run_dir: Path, info: dict, error: str | None = None) -> dict:
    result = {k: info.get(k) for k in ("run", "reservoir", "value", "unit", "temperature")}
    result.update(status="error", cause=None, samples=0)
    log, error = read_run_log(run_dir, error)
    thermo = log.runs[-1].thermo if log and log.runs else pd.DataFrame()
    trace = engine_trace(run_dir) if info.get("engine") == "exact" else None
    if trace is None and f"{GCMC}[1]" in thermo:
        trace = _trace(thermo, info)
    if trace is not None and len(trace):
        write_text(run_dir / TRACE, trace.to_csv(index=False))
        result.update(_summary(trace, info.get("equilibrate")))
        if "voltage" in info:
            from mdrive.protocols import li_graphite

            result.update(voltage=info["voltage"],
                          **li_graphite.loading(_averaged(trace, info.get("equilibrate")), info))
    finished = trace is not None and len(trace) and (
        int(trace["step"].iloc[-1]) >= info["steps"] if info.get("engine") == "exact" else
        log.runs[-1].ended == "completed")
    if error:
        result["status"], result["cause"] = metrics.classify_error(error)
    elif result["samples"] and finished:
        result["status"] = "valid"
    else:
        result["status"], result["cause"] = "censored", "stopped before the run finished"
    return result


def _trace(thermo: pd.DataFrame, info: dict) -> pd.DataFrame:
    """step, N per species, energy, density and the cumulative MC counters of one run."""
    trace = pd.DataFrame({"step": thermo["Step"], "temp": thermo["Temp"], "pe": thermo["PotEng"],
                          "atoms": thermo["Atoms"], "volume": thermo["Volume"], "density": thermo["Density"]})
    for k, element in enumerate(info["elements"], 1):
        column = f"c_mdrive_count[{k}]"
        if column in thermo:
            trace[f"n_{element}"] = thermo[column]
    names = ["translate_tries", "translate_ok", "insert_tries", "insert_ok", "delete_tries", "delete_ok"]
    for k, name in enumerate(names, 1):
        trace[name] = thermo[f"{GCMC}[{k}]"]
    if "f_mdrive_swap[1]" in thermo:
        trace["swap_tries"], trace["swap_ok"] = thermo["f_mdrive_swap[1]"], thermo["f_mdrive_swap[2]"]
    return trace


def _averaged(trace: pd.DataFrame, equilibrate: int | None) -> pd.DataFrame:
    """The rows averages are taken over: after `equilibrate` MD steps, else the second half."""
    if equilibrate is None:
        return trace.iloc[len(trace) // 2:]
    return trace[trace["step"] >= trace["step"].iloc[0] + equilibrate]


def _summary(trace: pd.DataFrame, equilibrate: int | None = None, blocks: int = 5) -> dict:
    """Averages after `equilibrate` MD steps (default: over the second half of the run); error from blocks;
    the drift of N over the averaged part (a straight-line fit's change across it), flagged when it exceeds
    4 block errors and 1 %: the run has not reached equilibrium. Density: LAMMPS's thermo density, g/cm³
    in metal units, number density in LJ units (m = 1)."""
    late = _averaged(trace, equilibrate)
    n = late["atoms"].to_numpy(float)
    per_block = [b.mean() for b in np.array_split(n, blocks)] if len(n) >= blocks else [np.nan]
    error = float(np.std(per_block, ddof=1) / np.sqrt(len(per_block))) if len(per_block) > 1 else None
    drift = float(np.polyfit(late["step"], n, 1)[0] * np.ptp(late["step"])) if len(n) > 2 else None
    flag = None
    if drift is not None and error is not None and abs(drift) > max(4 * error, 0.01 * abs(n.mean())):
        flag = f"<N> still drifts ({drift:+.1f} over the averaged part): run longer or raise --equilibrate"
    last = trace.iloc[-1]

    def rate(ok, tries):
        return float(last[ok] / last[tries]) if tries in last and last[tries] > 0 else None

    return {"samples": int(len(late)), "n_mean": float(n.mean()) if len(n) else None, "n_err": error,
            "n_drift": drift, "flag": flag,
            "density_mean": float(late["density"].mean()), "pe_mean": float(late["pe"].mean()),
            "acc_insert": rate("insert_ok", "insert_tries"), "acc_delete": rate("delete_ok", "delete_tries"),
            "acc_translate": rate("translate_ok", "translate_tries"), "acc_swap": rate("swap_ok", "swap_tries")}


def write_results(out: Path, rows: list[dict], params: GcmcParams | None = None) -> tuple[str, dict]:
    from mdrive import plots
    from mdrive.manifest import atomic_path

    chains = any(r.get("voltage") is not None for r in rows)
    table = pd.DataFrame(rows).reindex(columns=ISOTHERM_COLUMNS + (VOLTAGE_COLUMNS if chains else []))
    table = table.sort_values(["reservoir", "value", "run"]).reset_index(drop=True)
    write_text(out / ISOTHERM, table.to_csv(index=False))
    traces = run_tables(out, TRACE)
    if traces is not None:
        write_text(out / TRACES, traces.to_csv(index=False))
    valid = table[table["status"] == "valid"]
    if not valid.empty:
        with atomic_path(out / PLOT) as tmp:
            plots.isotherm(valid, tmp)
    head = {r["run"]: {"status": r["status"], "n_mean": r["n_mean"], "density_mean": r["density_mean"]}
            for r in table.to_dict("records")}
    lines = [f"{r['run']}: {r['status']}" + (f", <N> = {r['n_mean']:.2f} ± {r['n_err'] or 0:.2f}, density "
                                             f"{r['density_mean']:.4g}" if r["status"] == "valid" else "")
             for r in table.to_dict("records")]
    if chains:
        from mdrive.protocols import li_graphite

        said = li_graphite.write_curve(out, table)
        lines += [said] if said else []
    drifting = table["flag"].notna().sum()
    if drifting:
        lines.append(f"mdrive: warning: {drifting} runs' <N> still drifts over the averaged part; see the 'flag' "
                     f"column of isotherm.csv (run longer or raise --equilibrate)")
    return "\n".join(lines), head


def plan(params: GcmcParams, run) -> Study:
    if params.preset == "li-graphite":
        from mdrive.protocols import li_graphite

        return li_graphite.plan(params, run)
    params.lj_or_structures(run)
    if params.lj:
        if params.swap:
            raise InputError("--lj builds a one-component Lennard-Jones fluid: give no --swap")
        engine = {"engine": "exact" if params.engine == "exact" else "fix",
                  "why": "asked for (--engine)" if params.engine != "auto" else "pairwise: fix gcmc scores it exactly"}
        return Study(lj_jobs(params), provenance={"mc_engine": engine})
    potential = run.load_potential("eam:Cu_u3.eam")
    sp = covered_species(params.species, potential)
    structs, _ = read_structures(run, potential, elements_of=lambda s: elements_with(s, sp))
    for s in structs:
        if params.swap and not set(params.swap_pair) <= set(elements_with(s, sp)):
            raise InputError(f"--swap {params.swap}: structure {s.name} has {' '.join(s.elements)}")
    need_two_atoms(structs, "the MD between MC moves")
    chosen = choose_engine(structs[0], potential, sp, params, deletions=True)
    jobs = structure_jobs(structs, potential, sp, params, chosen["mc_engine"]["engine"])
    return Study(jobs, potential, structs, provenance=chosen)


class PointHeadline(TypedDict):
    """One reservoir point's line of the headline (manifest["headline"][run])."""

    status: str
    n_mean: float | None  # mean number of atoms of the species over the averaged part
    density_mean: float | None


class Gcmc(Protocol):
    name = "gcmc"
    help = "grand-canonical Monte Carlo + MD (fix gcmc), isotherms"
    description = (
        "Hybrid MD / grand-canonical MC with fix gcmc, one run per reservoir value (an isotherm), spread over MPI "
        "groups; --swap A:B adds fix atom/swap; --lj runs the Lennard-Jones fluid in reduced units. Before MC "
        "with a potential, the guard rail checks that LAMMPS's trial energies match a direct recomputation "
        "(--unsafe overrides, recorded in the manifest).")
    params = GcmcParams
    reduced_by = "lj"
    outputs = (ISOTHERM, TRACES, PLOT, VOLTAGE, VOLTAGE_PLOT)
    headline = dict[str, PointHeadline]  # an isotherm ranks nothing

    plan = staticmethod(plan)
    analyze = staticmethod(analyze)
    summarize = staticmethod(write_results)


KIND = Gcmc()
