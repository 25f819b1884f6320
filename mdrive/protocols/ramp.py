"""`mdrive ramp`: MD stability under temperature (NVT) and temperature + pressure (NPT) ramps.

The MLIP Arena / MP-ALOE stability task (docs/protocols §1) in LAMMPS: decks inputs/ramp-{nvt,npt}.in,
validity checked inside LAMMPS every thermo step and re-checked from the log here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mdrive import decks, metrics
from mdrive.ensemble import Job
from mdrive.errors import InputError
from mdrive.potentials import Potential
from mdrive.run import read_run_log
from mdrive.structures import Structure, formula

GPA_TO_BAR = 1e4
TRUST_T, TRUST_P = 0.5, 0.5  # a valid run ending this far (relative) from the ramp's target is flagged
MAX_PRESSURE_GPA = 1e4  # ±10 TPa: beyond any physical target, so surely a unit mistake
ENSEMBLES = ("nvt", "npt")
PRESETS = {
    # MLIP Arena's task as coded (docs/protocols §1.2): 300 -> 3000 K, NPT 0 -> 500 GPa, 10 ps
    "arena": {"p_stop": 500.0},
    # MP-ALOE lowered the NPT target to 100 GPa "to better reflect physically attainable pressures"
    "mp-aloe": {"p_stop": 100.0},
}


@dataclass(frozen=True)
class RampParams:
    ensembles: tuple[str, ...] = ENSEMBLES
    t_start: float = 300.0  # K
    t_stop: float = 3000.0  # K
    p_start: float = 0.0  # GPa
    p_stop: float = 500.0  # GPa
    duration: float = 10.0  # ps
    timestep: float | None = None  # fs; None: 2 fs, or 0.5 fs when the structure holds H (as Arena)
    tdamp: float = 25.0  # fs (Arena's ttime)
    pdamp: float = 75.0  # fs (Arena's ptime)
    couple: str = "iso"  # NPT cell coupling: iso (default), aniso, or tri (Arena's fully flexible cell)
    thermo_every: int = 10  # steps: Arena's frame interval; validity is checked at this interval
    seed: int = 12345
    preset: str = "arena"

    def check(self) -> None:
        if min(self.t_start, self.t_stop) <= 0:
            raise InputError(f"temperatures must be positive (got --t-start {self.t_start} --t-stop {self.t_stop} K)")
        if max(abs(self.p_start), abs(self.p_stop)) > MAX_PRESSURE_GPA:
            raise InputError(f"pressures are in GPa and must lie within ±{MAX_PRESSURE_GPA:g} GPa "
                             f"(got --p-start {self.p_start} --p-stop {self.p_stop})")
        if self.duration <= 0:
            raise InputError(f"--duration must be positive (got {self.duration} ps)")
        if self.timestep is not None and self.timestep <= 0:
            raise InputError(f"--timestep must be positive (got {self.timestep} fs)")
        if self.thermo_every < 1:
            raise InputError(f"--thermo-every must be at least 1 step (got {self.thermo_every})")
        if not 0 < self.seed < 2 ** 31:
            raise InputError(f"--seed must be an integer in 1..2147483647 (got {self.seed})")
        if self.couple not in ("iso", "aniso", "tri"):
            raise InputError(f"--couple must be iso, aniso or tri (got {self.couple})")
        for ens in self.ensembles:
            if ens not in ENSEMBLES:
                raise InputError(f"--ensemble must be nvt, npt or both (got {ens})")

    def dt_fs(self, structure: Structure) -> float:
        return self.timestep or (0.5 if structure.has_hydrogen else 2.0)

    def steps(self, structure: Structure) -> int:
        return max(1, round(self.duration * 1000 / self.dt_fs(structure)))

    def variables(self, ensemble: str, structure: Structure) -> dict:
        values = {
            "seed": self.seed, "t_start": self.t_start, "t_stop": self.t_stop,
            "steps": self.steps(structure), "dt": self.dt_fs(structure) / 1000,
            "tdamp": self.tdamp / 1000, "thermo_every": self.thermo_every,
        }
        if ensemble == "npt":
            values.update(p_start=self.p_start * GPA_TO_BAR, p_stop=self.p_stop * GPA_TO_BAR,
                          pdamp=self.pdamp / 1000, couple=self.couple)
        return values


def jobs(structures: list[Structure], potential: Potential, params: RampParams) -> list[Job]:
    out = []
    for s in structures:
        for ens in params.ensembles:
            variables = params.variables(ens, s)
            info = {"protocol": "ramp", "structure": s.name, "source": s.source, "ensemble": ens,
                    "n_atoms": len(s.atoms), "formula": formula(s.atoms), "seed": params.seed,
                    "steps_target": variables["steps"], "timestep_fs": params.dt_fs(s),
                    "variables": variables}
            cost = len(s.atoms) * variables["steps"] * (3.0 if ens == "npt" else 1.0)  # NPT: ~3x per step
            compose = decks.composer(f"ramp-{ens}.in", variables, potential=potential, structure=s)
            out.append(Job(f"{s.name}-{ens}", compose, info, cost,
                           worker=potential.worker_setup(s.elements), templates=(f"ramp-{ens}.in",)))
    return out


def rejected_jobs(rejected: dict[str, str], params: RampParams) -> list[Job]:
    """Runs of structures rejected up front (--skip-bad): recorded as errors with the reason, never run."""
    steps = max(1, round(params.duration * 1000 / (params.timestep or 2.0)))
    return [Job(f"{name}-{ens}", None, {"protocol": "ramp", "structure": name, "ensemble": ens, "n_atoms": 0,
                                        "formula": None, "seed": params.seed, "steps_target": steps},
                refused=f"rejected before running: {why}")
            for name, why in rejected.items() for ens in params.ensembles]


# --- results: from the log of one run to its verdict -------------------------------------------


def analyze(run_dir: Path, info: dict, error: str | None = None) -> dict:
    """Verdict of one run from its log (and the Python-side error, if any)."""
    out = {k: info[k] for k in ("structure", "ensemble", "n_atoms", "formula", "seed", "steps_target")}
    out.update(status="error", cause=None, steps_valid=0, last_valid_step=None,
               temp_at_end=None, press_at_end=None, steps_per_s=None, dangerous_builds=None, flag=None)
    log, error = read_run_log(run_dir, error)
    if log is None or len(log.runs) < 2 or log.runs[0].thermo.empty:
        # failed before the ramp started: set-up error (or unstable from the first force call)
        if metrics.is_breakdown(error):
            error = metrics.breakdown_at(error, "before the ramp started")
        out["status"], out["cause"] = metrics.classify_error(error) if error else ("error", "no ramp in log")
        return _finish(out)
    ref = log.runs[0].thermo.iloc[0]
    pe0, v0 = ref["PotEng"] / ref["Atoms"], ref["Volume"]
    ramp = log.runs[-1]
    thermo = ramp.thermo
    bad, cause = metrics.first_invalid(thermo, pe0, v0)
    good = thermo if bad is None else thermo.iloc[:bad]
    last = thermo.iloc[bad] if bad is not None else (thermo.iloc[-1] if len(thermo) else None)
    out["last_valid_step"] = int(good["Step"].iloc[-1]) if len(good) else None
    out["steps_valid"] = out["last_valid_step"] or 0
    if last is not None:
        out["temp_at_end"], out["press_at_end"] = float(last["Temp"]), float(last["Press"])
    out["steps_per_s"] = _steps_per_s(ramp)
    out["dangerous_builds"] = ramp.dangerous_builds
    if bad is not None:
        out["status"], out["cause"] = "invalid", cause
    elif error:
        if metrics.is_breakdown(error):  # the process died: say where, from the rows it wrote
            error = metrics.breakdown_at(error, int(thermo["Step"].iloc[-1]) if len(thermo) else 0)
        out["status"], out["cause"] = metrics.classify_error(error, metrics.running_away(thermo, pe0, v0))
    elif out["steps_valid"] >= info["steps_target"]:
        out["status"] = "valid"
    elif ramp.halted_by == "mdrive_guard":  # validity.in's every-step volume rule, between thermo rows
        out["status"], out["cause"] = "invalid", metrics.VOLUME_CAUSE
    else:
        # stopped by mdrive's wall-time budget or a signal, or killed: not a failure of the potential
        out["status"] = "censored"
        out["cause"] = "stopped early" if ramp.halted_by == "mdrive_stop" else "log cut off"
    out["flag"] = trust_flag(out, info)
    return _finish(out)


def trust_flag(out: dict, info: dict) -> str | None:
    """Why a valid run's verdict deserves a second look: forces computed on a stale neighbour list
    (dangerous builds), or a temperature or pressure far from the ramp's target at its end."""
    if out["status"] != "valid":
        return None
    flags = []
    if out.get("dangerous_builds"):
        flags.append(f"{out['dangerous_builds']} dangerous neighbor builds")
    variables = info.get("variables", {})
    t_target = variables.get("t_stop")
    if t_target and out["temp_at_end"] is not None and abs(out["temp_at_end"] - t_target) > TRUST_T * t_target:
        flags.append(f"T {out['temp_at_end']:.0f} K at the end, target {t_target:g} K")
    p_target = variables.get("p_stop")
    if p_target and out["press_at_end"] is not None and abs(out["press_at_end"] - p_target) > TRUST_P * abs(p_target):
        flags.append(f"P {out['press_at_end'] / GPA_TO_BAR:.0f} GPa at the end, target {p_target / GPA_TO_BAR:g} GPa")
    return "; ".join(flags) or None


def _finish(out: dict) -> dict:
    out["fraction_valid"] = round(out["steps_valid"] / out["steps_target"], 6) if out["steps_target"] else 0.0
    return out


def _steps_per_s(run) -> float | None:
    if run.performance and "timesteps/s" in run.performance:
        return run.performance["timesteps/s"]
    if run.loop_time and run.steps:
        return run.steps / run.loop_time
    return None


# --- results: tables, curves and the headline over all runs ------------------------------------

SUMMARY_COLUMNS = ["run", "ensemble", "n_atoms", "formula", "status", "cause", "steps_target", "steps_valid",
                   "fraction_valid", "steps_per_s", "seed", "structure", "last_valid_step", "temp_at_end",
                   "press_at_end", "dangerous_builds", "flag", "wall_s"]
GRID = np.linspace(0.0, 1.0, 101)


def summary_table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    table["run"] = table["structure"] + "-" + table["ensemble"]
    for col in SUMMARY_COLUMNS:
        if col not in table:
            table[col] = None
    order = table["ensemble"].map({e: k for k, e in enumerate(ENSEMBLES)})
    table = table.assign(_order=order).sort_values(["structure", "_order"], kind="stable")
    return table[SUMMARY_COLUMNS].reset_index(drop=True)


def headline(table: pd.DataFrame) -> dict:
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
    return "\n".join(lines) if lines else "no runs"


def params_dict(params: RampParams) -> dict:
    return asdict(params)


def write_results(out: Path, rows: list[dict], params: dict) -> tuple[str, dict]:
    """summary.csv, survival.csv, survival.png; returns the headline (text, data)."""
    from mdrive import plots
    from mdrive.manifest import atomic_path, write_text

    table = summary_table(rows)
    write_text(out / "summary.csv", table.to_csv(index=False))
    survival = survival_table(table)
    write_text(out / "survival.csv", survival.to_csv(index=False))
    ramps = {ens: (params["t_start"], params["t_stop"],
                   params["p_start"] if ens == "npt" else None, params["p_stop"] if ens == "npt" else None)
             for ens in ENSEMBLES}
    if not survival.empty:
        with atomic_path(out / "survival.png") as tmp:
            plots.survival(survival, ramps, tmp)
    head = headline(table)
    return headline_text(head), head
