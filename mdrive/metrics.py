"""Validity and survival metrics of MD-stability runs (docs/protocols §1.4–1.5).

Validity is recomputed here from every thermo row of the log, so a score never depends on the
`fix halt` that ended the run early; the same thresholds as inputs/validity.in.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

MAX_DE_PER_ATOM = 100.0  # eV/atom, |E(t) - E(0)| / N
MAX_ATOM_KE = 100.0  # eV, largest per-atom kinetic energy
VOLUME_RANGE = (0.1, 10.0)  # V / V0
KE_COLUMN = "c_mdrive_kemax"
VOLUME_CAUSE = "volume outside [0.1, 10] V0"

# LAMMPS error texts that mean the simulation itself went unstable (-> status invalid), with the cause
# mdrive reports; any other error is a failure of the set-up or the software (-> status error).
UNSTABLE = [
    (re.compile(r"Lost atoms", re.I), "lost atoms"),
    (re.compile(r"Non-numeric atom coords", re.I), "non-numeric coordinates"),
    (re.compile(r"Neighbor list overflow", re.I), "neighbor list overflow"),
    (re.compile(r"Out of range atoms", re.I), "out of range atoms"),
    (re.compile(r"Non-numeric (pressure|box)", re.I), "non-numeric pressure or box"),
    (re.compile(r"too close|Too many neighbor|Pair distance < table inner cutoff", re.I), "atoms too close"),
    (re.compile(r"Fix (npt|nph|nvt)[^:]*: .*(box|volume|dilation)", re.I), "cell collapse"),
    (re.compile(r"Bond atoms? missing|Atom .* missing", re.I), "missing atoms"),
    (re.compile(r"Domain too large|Triclinic box skew is too large", re.I), "cell collapse"),
    (re.compile(r"Cannot use neighbor bins - box size << cutoff|box size << cutoff", re.I),
     "box collapsed below the cutoff"),
    (re.compile(r"Too many neighbor bins|Too many atom sorting bins", re.I), "cell collapse"),
    # SevenNet's pair_e3gnn sizes its edge arrays at 1.2x the previous force call's edge count (kept across
    # runs; only a new pair style resets it) and stops when a call has more: in MD, a collapse within one step
    (re.compile(r"nedges exceeded nedges_upper_bound"), "neighbour graph grew > 20 % in one step (collapse)"),
    # a model computed in Python (potentials.bridge) that returned NaN or inf: the physics broke, not the software
    (re.compile(r"the model returned non-finite values at step \d+: (.*)"), "non-finite model output"),
]
# where a model computed in Python failed (potentials.bridge): rows of that step on were not computed by it
MODEL_FAILED_AT = re.compile(r"^the model (?:raised|returned non-finite values) at step (\d+)")


def model_failed_at(error: str | None) -> int | None:
    """The step at which a model computed in Python raised or returned non-finite values, if it did."""
    found = MODEL_FAILED_AT.match(error or "")
    return int(found.group(1)) if found else None
# what a run's supervisor says when the run's process died (mdrive.isolation): the log decides whether
# the dynamics were running away before it
BREAKDOWNS = ("crashed:", "memory budget exceeded")
# a run is running away when its last frame is within a factor 10 of a validity limit
RUNAWAY_DE_PER_ATOM = MAX_DE_PER_ATOM / 10
RUNAWAY_ATOM_KE = MAX_ATOM_KE / 10
RUNAWAY_VOLUME = (0.3, 3.0)


def is_breakdown(text: str | None) -> bool:
    return bool(text) and text.startswith(BREAKDOWNS)


def breakdown_at(text: str, where: int | str) -> str:
    """A breakdown's cause with where its log ended (a step, or words): 'crashed: SIGSEGV after step 240',
    'memory budget exceeded (8.0 GB) after step 140: Failed to allocate ...'."""
    where = f"after step {where}" if isinstance(where, int) else where
    head, sep, detail = text.partition("): ") if text.startswith(BREAKDOWNS[1]) else (text, "", "")
    return f"{head}{')' if sep else ''} {where}{': ' + detail if sep else ''}"


def classify_error(text: str, runaway: bool = False) -> tuple[str, str]:
    """(status, cause) for a run's error: a LAMMPS error message, or a crash of its process, which is
    `invalid` when the dynamics were running away before it (`runaway`, from the log) and `error` else."""
    if is_breakdown(text):
        return ("invalid" if runaway else "error"), _plain(text)
    for pattern, cause in UNSTABLE:
        if pattern.search(text):
            return "invalid", cause
    return "error", _plain(text)[:200]


def _plain(text: str) -> str:
    """An error message without LAMMPS's ERROR prefix and source location."""
    text = re.sub(r"ERROR( on proc \d+)?: ", "", text)
    return re.sub(r"\s*\(src/[^)]*\)", "", text).strip()


def first_invalid(thermo: pd.DataFrame, pe0_per_atom: float, v0: float) -> tuple[int | None, str | None]:
    """Row index of the first invalid frame and which criterion it breaks, or (None, None)."""
    if thermo.empty:
        return None, None
    atoms = thermo["Atoms"].to_numpy() if "Atoms" in thermo else np.nan
    values = thermo.drop(columns=[c for c in ("Step",) if c in thermo]).to_numpy(dtype=float)
    checks = [
        ("non-finite thermo", ~np.isfinite(values).all(axis=1)),
        ("energy drift > 100 eV/atom",
         np.abs(thermo["PotEng"].to_numpy() / atoms - pe0_per_atom) > MAX_DE_PER_ATOM),
        ("max atom KE >= 100 eV", thermo[KE_COLUMN].to_numpy() >= MAX_ATOM_KE
         if KE_COLUMN in thermo else np.zeros(len(thermo), bool)),
        (VOLUME_CAUSE,
         (thermo["Volume"].to_numpy() < VOLUME_RANGE[0] * v0) | (thermo["Volume"].to_numpy() > VOLUME_RANGE[1] * v0)),
    ]
    first, cause = None, None
    for name, bad in checks:
        hits = np.flatnonzero(bad)
        if len(hits) and (first is None or hits[0] < first):
            first, cause = int(hits[0]), name
    return first, cause


def running_away(thermo: pd.DataFrame, pe0_per_atom: float, v0: float) -> bool:
    """Whether the last frames show the dynamics going unstable: energy, the hottest atom or the volume
    within a factor 10 of a validity limit, or a non-finite value."""
    if thermo.empty:
        return False
    last = thermo.iloc[-1]
    values = pd.to_numeric(last.drop(labels=[c for c in ("Step",) if c in last]), errors="coerce").to_numpy(float)
    if not np.isfinite(values).all():
        return True
    drift = abs(last["PotEng"] / last["Atoms"] - pe0_per_atom) if "Atoms" in last else 0.0
    ke = last[KE_COLUMN] if KE_COLUMN in last else 0.0
    ratio = last["Volume"] / v0 if "Volume" in last and v0 else 1.0
    return bool(drift > RUNAWAY_DE_PER_ATOM or ke > RUNAWAY_ATOM_KE
                or not RUNAWAY_VOLUME[0] <= ratio <= RUNAWAY_VOLUME[1])


# --- survival over an ensemble of runs -------------------------------------------------------------


def survival_curve(tau: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Percentage of runs still valid at each normalized time t: 100/N · #{τ_i ≥ t}."""
    tau = np.asarray(tau, dtype=float)
    if tau.size == 0:
        return np.full(len(grid), np.nan)
    return 100.0 * (tau[None, :] >= np.asarray(grid)[:, None]).mean(axis=1)


def completion(steps_valid, steps_target) -> float:
    """% of scheduled timesteps completed: 100 · Σ steps_valid / Σ steps_target."""
    total = float(np.sum(steps_target))
    return 100.0 * float(np.sum(steps_valid)) / total if total else float("nan")


def arena_auc(tau: np.ndarray) -> float:
    """MLIP Arena's leaderboard AUC, reproduced as coded (docs/protocols §1.2): 99 bins on [0, 1],
    curve (N − cumulative count)/N over the left edges, trapezoid rule. All runs finishing give 0.985."""
    tau = np.asarray(tau, dtype=float)
    if tau.size == 0:
        return float("nan")
    edges = np.linspace(0, 1, 100)
    counts, _ = np.histogram(np.clip(tau, 0, 1), bins=edges)
    curve = (tau.size - np.cumsum(counts)) / tau.size
    return float(np.trapezoid(curve, edges[:-1]))


def kaplan_meier(tau: np.ndarray, censored: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Survival in % treating censored runs as alive until their last valid time (product-limit)."""
    tau, censored = np.asarray(tau, float), np.asarray(censored, bool)
    if tau.size == 0:
        return np.full(len(grid), np.nan)
    fail_times = np.unique(tau[~censored & (tau < 1)])
    surv, s = [], 1.0
    factors = {}
    for t in fail_times:
        at_risk = np.sum(tau >= t)
        deaths = np.sum((tau == t) & ~censored)
        s *= 1.0 - deaths / at_risk
        factors[t] = s
    for g in grid:
        passed = [v for t, v in factors.items() if t < g]
        surv.append(100.0 * (passed[-1] if passed else 1.0))
    return np.array(surv)


# --- glass transition from a cooling curve -------------------------------------------------------


def glass_transition(temp, value, bins: int = 60) -> dict | None:
    """Tg as the kink of a cooling curve (volume, density or energy against T): the break point of the
    continuous two-segment line that fits best. Rows are first averaged into `bins` temperature bins, so
    thermostat noise counts little. Written by hand: a hinge fit is a grid of small least-squares
    solves, and no maintained library offers it without pulling in an optimiser we do not need.
    None when fewer than 8 bins hold data."""
    temp, value = np.asarray(temp, float), np.asarray(value, float)
    keep = np.isfinite(temp) & np.isfinite(value)
    temp, value = temp[keep], value[keep]
    if temp.size < 8 or np.ptp(temp) <= 0:
        return None
    edges = np.linspace(temp.min(), temp.max(), bins + 1)
    which = np.clip(np.digitize(temp, edges) - 1, 0, bins - 1)
    filled = np.bincount(which, minlength=bins) > 0
    t = (np.bincount(which, temp, bins) / np.maximum(np.bincount(which, minlength=bins), 1))[filled]
    y = (np.bincount(which, value, bins) / np.maximum(np.bincount(which, minlength=bins), 1))[filled]
    if t.size < 8:
        return None
    best = None
    for tg in t[2:-2]:  # at least three bins on each side of the break
        design = np.column_stack([np.ones_like(t), t, np.maximum(t - tg, 0.0)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        sse = float(np.sum((design @ coef - y) ** 2))
        if best is None or sse < best[0]:
            best = (sse, float(tg), coef)
    sse, tg, (_, slope_low, bend) = best
    line_sse = float(np.sum((np.polyval(np.polyfit(t, y, 1), t) - y) ** 2))
    return {"tg": tg, "slope_below": float(slope_low), "slope_above": float(slope_low + bend),
            "sse_ratio": sse / line_sse if line_sse > 0 else 1.0}
