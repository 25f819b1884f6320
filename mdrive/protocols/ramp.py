"""`mdrive ramp`: MD stability under temperature (NVT) and temperature + pressure (NPT) ramps.

The MLIP Arena / MP-ALOE stability task (docs/protocols §1) in LAMMPS: decks inputs/ramp-{nvt,npt}.in,
validity checked inside LAMMPS every thermo step and re-checked from the log here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from mdrive import decks, metrics, units
from mdrive.jobs import Job, read_run_log
from mdrive.params import param
from mdrive.potentials import Potential
from mdrive.protocol import Protocol, Study, need_two_atoms, read_structures
from mdrive.protocols.md import MAX_TIMESTEP_PS, SEED_MAX, check_damping
from mdrive.structures import Structure, formula
from mdrive.study_kinds import Metric

TRUST_T, TRUST_P = 0.5, 0.5  # a valid run ending this far (relative) from the ramp's target is flagged
# γ <= 1: interpolation; python-ace's calculator calls γ > 5 large extrapolation (its gamma_upper_bound) and LAMMPS's
# pace/extrapolation example halts there: beyond it the potential's numbers are not to be trusted
GAMMA_LIMIT, GRADE = 5.0, "v_mdrive_gamma"  # GRADE: the thermo column of a potential that reports the grade
MAX_PRESSURE_GPA = 1e4  # ±10 TPa: beyond any physical target, so surely a unit mistake
ENSEMBLES = ("nvt", "npt")
PRESETS = {
    # MLIP Arena's task as coded (docs/protocols §1.2): 300 -> 3000 K, NPT 0 -> 500 GPa, 10 ps
    "arena": {"p_stop": 500.0},
    # MP-ALOE lowered the NPT target to 100 GPa "to better reflect physically attainable pressures"
    "mp-aloe": {"p_stop": 100.0},
}
# The built-in demo (`make run`): Cu–Ni random mixtures with the Cu–Ni EAM shipped with LAMMPS.
DEMO_POTENTIAL = "eam/alloy:CuNi.eam.alloy"
DEMO_SET = {"elements": ["Cu", "Ni"], "count": 8, "n_atoms": 256, "seed": 2024
}


@dataclass(frozen=True)
class RampParams:
    ensemble: str = param("both", "nvt: temperature ramp; npt: temperature and pressure ramp; both",
                          choices=("nvt", "npt", "both"))
    preset: str = param("arena", "arena: NPT to 500 GPa; mp-aloe: NPT to 100 GPa", choices=tuple(PRESETS))
    t_start: float = param(300.0, "ramp start temperature", dim="temperature", above=0, max=1e5)
    t_stop: float = param(3000.0, "ramp end temperature", dim="temperature", above=0, max=1e5)
    p_start: float = param(0.0, "NPT ramp start pressure", dim="pressure", min=-MAX_PRESSURE_GPA,
                           max=MAX_PRESSURE_GPA)
    p_stop: float | None = param(None, "NPT ramp end pressure (default: the preset's, arena 500 GPa, mp-aloe "
                                 "100 GPa)", dim="pressure", min=-MAX_PRESSURE_GPA, max=MAX_PRESSURE_GPA)
    duration: float = param(10.0, "length of each ramp", dim="time", above=0, max=1e6)
    timestep: float | None = param(None, "MD timestep (default 2 fs, 0.5 fs when the structure holds H, as "
                                   "Arena)", dim="time", above=0, max=MAX_TIMESTEP_PS)
    tdamp: float = param(0.025, "thermostat damping (Arena's ttime)", dim="time", above=0)
    pdamp: float = param(0.075, "barostat damping (Arena's ptime)", dim="time", above=0)
    couple: str = param("iso", "NPT cell coupling: iso, aniso, or tri (Arena's fully flexible cell)",
                        choices=("iso", "aniso", "tri"))
    thermo_every: int = param(10, "steps between thermo rows and validity checks (Arena's frame interval)", min=1)
    seed: int = param(12345, "velocity seed, recorded", min=1, max=SEED_MAX)
    gamma_limit: float = param(GAMMA_LIMIT, "extrapolation grade above which a run has left its potential's "
                               "training domain (pace with an active set, pace:p.yaml,p.asi): the step is recorded "
                               "and a valid run flagged, an early warning beside the validity verdict", above=1.0,
                               max=1e12)
    skip_bad: bool = param(False, "record structures rejected up front (unreadable, overlapping, elements the "
                           "potential lacks) as failed runs and run the others, instead of stopping")

    @property
    def ensembles(self) -> tuple[str, ...]:
        return ENSEMBLES if self.ensemble == "both" else (self.ensemble,)

    def check(self) -> None:
        check_damping(self.tdamp, self.pdamp, self.timestep or 0.002, self.duration)

    def dt_ps(self, structure: Structure) -> float:
        return self.timestep or (0.0005 if structure.has_hydrogen else 0.002)

    def steps(self, structure: Structure) -> int:
        return max(1, round(self.duration / self.dt_ps(structure)))

    def variables(self, ensemble: str, structure: Structure) -> tuple[dict, dict]:
        """The deck's variables for one run, in LAMMPS's units, and those units."""
        quantities = {"t_start": (self.t_start, "temperature"), "t_stop": (self.t_stop, "temperature"),
                      "dt": (self.dt_ps(structure), "time"), "tdamp": (self.tdamp, "time")}
        if ensemble == "npt":
            quantities.update(p_start=(self.p_start, "pressure"), p_stop=(self.p_stop, "pressure"),
                              pdamp=(self.pdamp, "time"))
        values, deck_units = units.deck_variables(quantities)
        values.update(seed=self.seed, steps=self.steps(structure), thermo_every=self.thermo_every)
        if ensemble == "npt":
            values["couple"] = self.couple
        return values, deck_units


def jobs(structures: list[Structure], potential: Potential, params: RampParams) -> list[Job]:
    out = []
    for s in structures:
        for ens in params.ensembles:
            variables, deck_units = params.variables(ens, s)
            info = {"protocol": "ramp", "structure": s.name, "source": s.source, "ensemble": ens,
                    "n_atoms": len(s.atoms), "formula": formula(s.atoms), "seed": params.seed,
                    "steps_target": variables["steps"], "timestep_fs": params.dt_ps(s) * 1000,
                    "variables": variables, "variable_units": deck_units, "gamma_limit": params.gamma_limit}
            cost = len(s.atoms) * variables["steps"] * (3.0 if ens == "npt" else 1.0)  # NPT: ~3x per step
            compose = decks.composer(f"ramp-{ens}.in", variables, potential=potential, structure=s)
            out.append(Job(f"{s.name}-{ens}", compose, info, cost,
                           worker=potential.worker_setup(s.elements), templates=(f"ramp-{ens}.in",)))
    return out


def rejected_jobs(rejected: dict[str, str], params: RampParams) -> list[Job]:
    """Runs of structures rejected up front (--skip-bad): recorded as errors with the reason, never run."""
    steps = max(1, round(params.duration / (params.timestep or 0.002)))
    return [Job(f"{name}-{ens}", None, {"protocol": "ramp", "structure": name, "ensemble": ens, "n_atoms": 0,
                                        "formula": None, "seed": params.seed, "steps_target": steps},
                refused=f"rejected before running: {why}")
            for name, why in rejected.items() for ens in params.ensembles]


# --- results: from the log of one run to its verdict -------------------------------------------


def analyze(run_dir: Path, info: dict, error: str | None = None) -> dict:
    """Verdict of one run from its log (and the Python-side error, if any)."""
    result = {k: info[k] for k in ("structure", "ensemble", "n_atoms", "formula", "seed", "steps_target")}
    result.update(status="error", cause=None, steps_valid=0, last_valid_step=None,
               temp_at_end=None, press_at_end=None, steps_per_s=None, dangerous_builds=None, flag=None)
    log, error = read_run_log(run_dir, error)
    if log is None or len(log.runs) < 2 or log.runs[0].thermo.empty:
        # failed before the ramp started: set-up error (or unstable from the first force call)
        if metrics.is_breakdown(error):
            error = metrics.breakdown_at(error, "before the ramp started")
        result["status"], result["cause"] = metrics.classify_error(error) if error else ("error", "no ramp in log")
        return _finish(result)
    ref = log.runs[0].thermo.iloc[0]
    pe0, v0 = ref["PotEng"] / ref["Atoms"], ref["Volume"]
    ramp = log.runs[-1]
    thermo = ramp.thermo
    bad, cause = metrics.first_invalid(thermo, pe0, v0)
    good = thermo if bad is None else thermo.iloc[:bad]
    last = thermo.iloc[bad] if bad is not None else (thermo.iloc[-1] if len(thermo) else None)
    result["last_valid_step"] = int(good["Step"].iloc[-1]) if len(good) else None
    result["steps_valid"] = result["last_valid_step"] or 0
    if last is not None:
        result["temp_at_end"], result["press_at_end"] = float(last["Temp"]), float(last["Press"])
    result["steps_per_s"] = _steps_per_s(ramp)
    result["dangerous_builds"] = ramp.dangerous_builds
    result.update(extrapolation(thermo, info))
    if bad is not None:
        result["status"], result["cause"] = "invalid", cause
    elif error:
        if metrics.is_breakdown(error):  # the process died: say where, from the rows it wrote
            error = metrics.breakdown_at(error, int(thermo["Step"].iloc[-1]) if len(thermo) else 0)
        result["status"], result["cause"] = metrics.classify_error(error, metrics.running_away(thermo, pe0, v0))
    elif result["steps_valid"] >= info["steps_target"]:
        result["status"] = "valid"
    elif ramp.halted_by == "mdrive_guard":  # validity.in's every-step volume rule, between thermo rows
        result["status"], result["cause"] = "invalid", metrics.VOLUME_CAUSE
    else:
        # stopped by mdrive's wall-time budget or a signal, or killed: not a failure of the potential
        result["status"] = "censored"
        result["cause"] = "stopped early" if ramp.halted_by == "mdrive_stop" else "log cut off"
    result["flag"] = trust_flag(result, info)
    return _finish(result)


def extrapolation(thermo: pd.DataFrame, info: dict) -> dict:
    """With a potential that reports its extrapolation grade: its largest value over the ramp and the first
    step it passed the limit (None if it never did); nothing otherwise."""
    if GRADE not in thermo or thermo.empty:
        return {}
    gamma = pd.to_numeric(thermo[GRADE], errors="coerce").to_numpy(float)
    over = np.flatnonzero(gamma > info.get("gamma_limit", GAMMA_LIMIT))
    return {"gamma_max": float(np.nanmax(gamma)) if np.isfinite(gamma).any() else None,
            "gamma_exceeded_step": int(thermo["Step"].iloc[over[0]]) if len(over) else None}


def trust_flag(result: dict, info: dict) -> str | None:
    """Why a valid run's verdict deserves a second look: forces computed on a stale neighbour list
    (dangerous builds), or a temperature or pressure far from the ramp's target at its end."""
    if result["status"] != "valid":
        return None
    flags = []
    if result.get("dangerous_builds"):
        flags.append(f"{result['dangerous_builds']} dangerous neighbor builds")
    if result.get("gamma_exceeded_step") is not None:
        flags.append(f"extrapolation grade {result['gamma_max']:.3g} > {info.get('gamma_limit', GAMMA_LIMIT):g} from "
                     f"step {result['gamma_exceeded_step']}")
    variables = info.get("variables", {})
    t_target = variables.get("t_stop")
    if t_target and result["temp_at_end"] is not None and abs(result["temp_at_end"] - t_target) > TRUST_T * t_target:
        flags.append(f"T {result['temp_at_end']:.0f} K at the end, target {t_target:g} K")
    p_target = variables.get("p_stop")
    p_end = result["press_at_end"]
    if p_target and p_end is not None and abs(p_end - p_target) > TRUST_P * abs(p_target):
        flags.append(f"P {units.from_lammps(p_end, 'pressure'):.0f} GPa at the end, target "
                     f"{units.from_lammps(p_target, 'pressure'):g} GPa")
    return "; ".join(flags) or None


def _finish(result: dict) -> dict:
    target = result["steps_target"]
    result["fraction_valid"] = round(result["steps_valid"] / target, 6) if target else 0.0
    return result


def _steps_per_s(run) -> float | None:
    if run.performance and "timesteps/s" in run.performance:
        return run.performance["timesteps/s"]
    if run.loop_time and run.steps:
        return run.steps / run.loop_time
    return None


# --- results: tables, curves and the headline over all runs ------------------------------------

SUMMARY, SURVIVAL, SURVIVAL_PLOT = "summary.csv", "survival.csv", "survival.png"
SUMMARY_COLUMNS = ["run", "ensemble", "n_atoms", "formula", "status", "cause", "steps_target", "steps_valid",
                   "fraction_valid", "steps_per_s", "seed", "structure", "last_valid_step", "temp_at_end",
                   "press_at_end", "dangerous_builds", "flag", "wall_s"]
GRID = np.linspace(0.0, 1.0, 101)


def summary_table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    table["run"] = table["structure"] + "-" + table["ensemble"]
    table = table.reindex(columns=SUMMARY_COLUMNS)
    order = table["ensemble"].map({e: k for k, e in enumerate(ENSEMBLES)})
    table = table.assign(_order=order).sort_values(["structure", "_order"], kind="stable")
    return table[SUMMARY_COLUMNS].reset_index(drop=True)


class _EnsembleCounts(TypedDict):
    """The keys every ensemble's line has."""

    runs: int
    scored: int  # runs not censored
    valid: int
    invalid: int
    error: int
    censored: int
    completed_percent: float  # % of the scored runs' scheduled timesteps completed valid
    arena_auc: float  # area under the survival curve, MLIP Arena's score (0..1)
    flagged: int  # valid runs whose verdict deserves a second look


class EnsembleHeadline(_EnsembleCounts, total=False):
    """One ensemble's line of the headline (manifest["headline"][ensemble])."""

    extrapolating: int  # runs whose extrapolation grade passed --gamma-limit (where the potential reports one)


def headline(table: pd.DataFrame) -> dict[str, EnsembleHeadline]:
    """Per ensemble: % of scheduled timesteps completed and Arena's AUC over the uncensored runs."""
    out = {}
    for ens, group in table.groupby("ensemble", sort=False):
        scored = group[group["status"] != "censored"]
        tau = normalized_time(scored)
        out[ens] = {
            "runs": int(len(group)), "scored": int(len(scored)),
            "valid": int((group["status"] == "valid").sum()),
            "invalid": int((group["status"] == "invalid").sum()),
            "error": int((group["status"] == "error").sum()),
            "censored": int((group["status"] == "censored").sum()),
            "completed_percent": round(metrics.completion(scored["steps_valid"].fillna(0), scored["steps_target"]), 3),
            "arena_auc": round(metrics.arena_auc(tau), 4),
            "flagged": int(group["flag"].notna().sum()) if "flag" in group else 0,
        }
    return out


def normalized_time(rows: pd.DataFrame) -> np.ndarray:
    """τ = steps_valid / steps_target of each run; a run with no valid frame (an error before the ramp,
    a structure rejected up front) has τ = 0, so every count (%, AUC, both survival curves) agrees."""
    return (rows["steps_valid"].fillna(0) / rows["steps_target"]).fillna(0).to_numpy(float)


def survival_table(table: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for ens, group in table.groupby("ensemble", sort=False):
        tau = normalized_time(group)
        censored = (group["status"] == "censored").to_numpy()
        frames.append(pd.DataFrame({
            "ensemble": ens, "normalized_time": GRID,
            "percent_valid": metrics.survival_curve(tau[~censored], GRID),
            "percent_valid_km": metrics.kaplan_meier(tau, censored, GRID)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["ensemble", "normalized_time", "percent_valid", "percent_valid_km"])


def headline_text(head: dict) -> str:
    lines = []
    for ens, h in head.items():
        if not h["scored"]:
            lines.append(f"{ens.upper()}: no uncensored runs to score ({h['censored']} censored)")
            continue
        lines.append(f"{ens.upper()}: {h['completed_percent']:.1f} % of scheduled timesteps completed, "
                     f"Arena AUC {h['arena_auc']:.3f} ({h['valid']} valid, {h['invalid']} invalid, "
                     f"{h['error']} error of {h['scored']} scored; {h['censored']} censored)")
        if h.get("flagged"):
            lines.append(f"mdrive: warning: {ens.upper()}: {h['flagged']} valid runs flagged (dangerous neighbor "
                         f"builds, or T/P far from the ramp target); see the 'flag' column of summary.csv")
        if h.get("extrapolating"):
            lines.append(f"mdrive: warning: {ens.upper()}: {h['extrapolating']} runs left the potential's training "
                         f"domain (extrapolation grade above --gamma-limit); the step is in runs/*/metrics.json "
                         f"(gamma_exceeded_step)")
    return "\n".join(lines) if lines else "no runs"


def write_results(out: Path, rows: list[dict], params: RampParams) -> tuple[str, dict]:
    """summary.csv, survival.csv, survival.png; returns the headline (text, data)."""
    from mdrive import plots
    from mdrive.manifest import atomic_path, write_text

    table = summary_table(rows)
    write_text(out / SUMMARY, table.to_csv(index=False))
    survival = survival_table(table)
    write_text(out / SURVIVAL, survival.to_csv(index=False))
    ramps = {ens: (params.t_start, params.t_stop,
                   params.p_start if ens == "npt" else None, params.p_stop if ens == "npt" else None)
             for ens in ENSEMBLES}
    if not survival.empty:
        with atomic_path(out / SURVIVAL_PLOT) as tmp:
            plots.survival(survival, ramps, tmp)
    head = headline(table)
    for row in rows:  # where the potential reports its extrapolation grade (summary.csv keeps its columns)
        if row.get("gamma_exceeded_step") is not None and row.get("ensemble") in head:
            h = head[row["ensemble"]]
            h["extrapolating"] = h.get("extrapolating", 0) + 1
    return headline_text(head), head


def plan(params: RampParams, run) -> Study:
    """Jobs for the given structures, or for the built-in Cu–Ni demo set when none are given."""
    from mdrive.protocols import mixtures

    if run.structures:
        potential = run.load_potential("snap:W_2940_2017_2")
        structs, rejected = read_structures(run, potential, params.skip_bad)
        provenance = {}
    else:
        potential = run.load_potential("", DEMO_POTENTIAL)
        structs, rejected = mixtures.generate(DEMO_SET["elements"], DEMO_SET["count"], DEMO_SET["n_atoms"],
                                              DEMO_SET["seed"]), {}
        provenance = {"demo_set": DEMO_SET}
    need_two_atoms(structs, "a temperature ramp")
    return Study(jobs(structs, potential, params) + rejected_jobs(rejected, params), potential, structs,
                 provenance=provenance)


class Ramp(Protocol):
    name = "ramp"
    help = "MD stability under temperature / pressure ramps (the main job)"
    description = ("MD stability under temperature (NVT) and temperature + pressure (NPT) ramps, the MLIP Arena / "
                   "MP-ALOE stability task; without STRUCTURES the built-in Cu-Ni demo set with the Cu-Ni EAM "
                   "shipped with LAMMPS.")
    params = RampParams
    presets = PRESETS
    outputs = (SUMMARY, SURVIVAL, SURVIVAL_PLOT)
    headline = dict[str, EnsembleHeadline]
    metrics = tuple(m for e in ENSEMBLES for m in (
        Metric(f"{e}_percent", f"{e.upper()} % steps"), Metric(f"{e}_auc", f"{e.upper()} AUC", better="higher"),
        Metric(f"{e}_scored", f"{e.upper()} scored", rides_in=f"{e}_auc"),
        Metric(f"{e}_censored", f"{e.upper()} censored", rides_in=f"{e}_auc")))

    plan = staticmethod(plan)
    analyze = staticmethod(analyze)
    summarize = staticmethod(write_results)

    def scores(self, headline: Mapping, parameters: Mapping) -> dict:
        found = {}
        for ens, h in headline.items():
            if isinstance(h, dict):
                found.update({f"{ens}_percent": h.get("completed_percent"), f"{ens}_auc": h.get("arena_auc"),
                            f"{ens}_scored": h.get("scored"), f"{ens}_censored": h.get("censored")})
        return found

    def speed_points(self, folder: Path, manifest: Mapping) -> pd.DataFrame | None:
        """The rate each one-rank run reported (runs of several ranks each are not one-rank speed)."""
        if not (folder / SUMMARY).is_file() or manifest.get("ranks_per_run", 1) != 1:
            return None
        t = pd.read_csv(folder / SUMMARY)
        t = t[pd.to_numeric(t["steps_per_s"], errors="coerce") > 0]
        return pd.DataFrame({"atoms": t["n_atoms"], "steps_per_s": t["steps_per_s"]})

    def figures(self) -> tuple:
        from mdrive.protocols import ramp_figures

        return ramp_figures.figures(SUMMARY, SURVIVAL)


KIND = Ramp()
