"""`mdrive evscan`: physical soundness under static extreme deformation (MP-ALOE Table I, docs/protocols §2).

Each structure's lattice vectors are scaled by (1+s), s evenly spaced in [-strain, +strain] (Arena: ±20 %,
21 points), atoms scaled with the cell, single points only: one deck (inputs/evscan.in) loops over s.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from mdrive import decks, metrics, units
from mdrive.errors import InputError
from mdrive.jobs import Job, read_run_log
from mdrive.params import param
from mdrive.potentials import Potential
from mdrive.protocol import Protocol, Study, read_structures
from mdrive.structures import Structure, formula
from mdrive.study_kinds import Metric

TABLE, CURVES, PLOT = "evscan.csv", "curves.parquet", "evscan.png"
MAX_STRAIN = 0.9  # (1 - 0.9)³: 1/1000 of the volume; the closest-approach check usually stops sooner
EVSCAN_COLUMNS = ["structure", "n_atoms", "status", "cause", "failed", "sign_changes", "spearman_E_compression",
                  "spearman_dEdV_compression"]


@dataclass(frozen=True)
class ScanParams:
    strain: float = param(0.2, "largest linear strain: 0.2 scans ±20 % (Arena)", dim="fraction", above=0,
                          max=MAX_STRAIN)
    points: int = param(21, "points in the scan, at least 5 (Arena: 21)", min=5, max=100001)

    def check(self) -> None:
        pass

    def strains(self) -> np.ndarray:
        return np.linspace(-self.strain, self.strain, self.points)


def jobs(structures: list[Structure], potential: Potential, params: ScanParams) -> list[Job]:
    variables = {"strain": params.strain, "points": params.points}
    return [Job(s.name, decks.composer("evscan.in", variables, potential=potential, structure=s),
                {"protocol": "evscan", "structure": s.name, "source": s.source, "n_atoms": len(s.atoms),
                 "formula": formula(s.atoms), "strains": params.strains().tolist()},
                cost=len(s.atoms) * params.points, worker=potential.worker_setup(s.elements), templates=("evscan.in",))
            for s in structures]


# --- metrics ---------------------------------------------------------------------------------------


def curve_metrics(strain: np.ndarray, energy: np.ndarray, volume: np.ndarray) -> dict:
    """Sign changes of dE/dV between neighbouring points (more than one: failure) and Spearman
    coefficients on the compressive side (s < 0): E vs s (ideal -1) and dE/dV vs s (ideal +1)."""
    strain, energy, volume = (np.asarray(a, float) for a in (strain, energy, volume))
    if not np.isfinite(energy).all():
        return {"failed": True, "sign_changes": None, "spearman_E_compression": None,
                "spearman_dEdV_compression": None}
    dedv = np.diff(energy) / np.diff(volume)
    signs = np.sign(dedv[dedv != 0])
    changes = int(np.sum(signs[1:] != signs[:-1]))
    compressed = strain < 0
    mid = (strain[1:] + strain[:-1]) / 2  # where each finite difference sits
    return {"failed": changes > 1, "sign_changes": changes,
            "spearman_E_compression": _spearman(strain[compressed], energy[compressed]),
            "spearman_dEdV_compression": _spearman(mid[mid < 0], dedv[mid < 0])}


def _spearman(x, y) -> float | None:
    if len(x) < 2 or np.ptp(y) == 0:
        return None  # undefined for a flat curve
    from scipy.stats import spearmanr  # here: scipy.stats takes ~0.8 s to import

    return float(spearmanr(x, y).statistic)


def analyze(run_dir: Path, info: dict, error: str | None = None) -> dict:
    """One scan's verdict: valid or invalid (the curve's test) when every point ran; a LAMMPS error or a
    crash before the first point is a set-up error (`error`, not a failure of the potential); after it,
    the potential broke at that strain (`invalid`); a scan stopped between points is censored."""
    result = {"structure": info["structure"], "n_atoms": info["n_atoms"], "formula": info["formula"],
           "status": "error", "cause": None, "failed": None, "sign_changes": None,
           "spearman_E_compression": None, "spearman_dEdV_compression": None, "curve": []}
    log, error = read_run_log(run_dir, error)
    rows = [r.thermo.iloc[-1] for r in (log.runs if log else []) if len(r.thermo)]
    strains = np.asarray(info["strains"])
    if error or len(rows) != len(strains):
        if not error:
            result["status"], result["cause"] = "censored", f"stopped after {len(rows)} of {len(strains)} points"
        elif not rows:
            result["cause"] = metrics.classify_error(error)[1]
        else:
            cause = metrics.classify_error(error, True)[1]
            result["status"], result["cause"] = "invalid", f"{cause} at point {len(rows) + 1}"
            result["failed"] = True
        return result
    points = pd.DataFrame(rows)
    energy, volume = points["PotEng"].to_numpy(), points["Volume"].to_numpy()
    result.update(curve_metrics(strains, energy, volume))
    result["status"] = "invalid" if result["failed"] else "valid"
    if result["failed"]:
        changes = result["sign_changes"]
        result["cause"] = "energy not finite" if changes is None else f"{changes} sign changes of dE/dV"
    result["curve"] = [{"strain": float(s), "volume": float(v), "volume_ratio": float(v / volume[len(volume) // 2]),
                     "energy": float(e), "energy_per_atom": float(e / info["n_atoms"]),
                     "pressure_gpa": units.from_lammps(float(p), "pressure")}
                    for s, v, e, p in zip(strains, volume, energy, points["Press"])]
    return result


# --- outputs ---------------------------------------------------------------------------------------


def write_results(out: Path, rows: list[dict], params: ScanParams) -> tuple[str, dict]:
    from mdrive import plots
    from mdrive.manifest import atomic_path, write_text

    table = pd.DataFrame(rows).reindex(columns=EVSCAN_COLUMNS)
    table = table.sort_values("structure", kind="stable").reset_index(drop=True)
    write_text(out / TABLE, table[EVSCAN_COLUMNS].to_csv(index=False))
    curves = pd.DataFrame([{"structure": r["structure"], **p} for r in rows for p in r.get("curve", [])])
    if not curves.empty:
        with atomic_path(out / CURVES) as tmp:
            curves.to_parquet(tmp, index=False)
        with atomic_path(out / PLOT) as tmp:
            plots.evscan(curves, table, tmp)
    head = headline(table)
    return headline_text(head), head


class ScanHeadline(TypedDict):
    """manifest["headline"] of an EV scan."""

    structures: int
    scored: int  # scans that ran to a verdict (valid or invalid)
    error: int
    censored: int
    failure_percent: float | None  # % of scored scans with more than one sign change of dE/dV
    spearman_E_compression: float | None  # mean over scored scans; ideal -1
    spearman_dEdV_compression: float | None  # ideal +1


def headline(table: pd.DataFrame) -> ScanHeadline:
    """Failure % over the scans that ran to a verdict (valid or invalid); set-up errors and stopped
    scans are counted apart, never as failures of the potential."""
    scored = table[table["status"].isin(["valid", "invalid"])]

    def mean(col):
        values = pd.to_numeric(scored[col], errors="coerce").dropna()
        return round(float(values.mean()), 4) if len(values) else None

    return {"structures": int(len(table)), "scored": int(len(scored)),
            "error": int((table["status"] == "error").sum()), "censored": int((table["status"] == "censored").sum()),
            "failure_percent": round(100.0 * float((scored["status"] == "invalid").mean()), 2) if len(scored) else None,
            "spearman_E_compression": mean("spearman_E_compression"),
            "spearman_dEdV_compression": mean("spearman_dEdV_compression")}


def headline_text(head: dict) -> str:
    apart = f"; {head['error']} set-up errors and {head['censored']} stopped scans not scored" \
        if head["error"] or head["censored"] else ""
    if not head["scored"]:
        return f"EV scan: no scan ran to a verdict ({head['structures']} structures{apart})"
    return (f"EV scan: {head['failure_percent']} % failures of {head['scored']} structures; mean Spearman "
            f"E (compression) {head['spearman_E_compression']} (ideal -1), dE/dV (compression) "
            f"{head['spearman_dEdV_compression']} (ideal +1){apart}")


def plan(params: ScanParams, run) -> Study:
    from mdrive.structures import MIN_DISTANCE, closest_distance

    potential = run.load_potential("eam:Cu_u3.eam")
    structs, _ = read_structures(run, potential)
    for s in structs:
        d = closest_distance(s.atoms, 6.0) * (1 - params.strain)
        if d < MIN_DISTANCE:
            raise InputError(f"--strain {params.strain:g} squeezes structure {s.name}'s closest atoms to {d:.2f} Å, "
                             f"below {MIN_DISTANCE} Å where no potential is meaningful; use a smaller --strain "
                             f"(Arena: 0.2)")
    return Study(jobs(structs, potential, params), potential, structs)


def worst_curves(folders: list, labels: list[str], worst: int = 3) -> str | None:
    """Each potential's least monotonic EV curves under compression (highest Spearman E, ideal -1)."""
    from mdrive.compare.figures import plt, svg

    found = [f for f in folders if (f.path / CURVES).is_file()]
    if not found:
        return None
    fig, axes = plt.subplots(1, len(found), figsize=(4.5 * len(found), 3.6), squeeze=False)
    for ax, f in zip(axes[0], found):
        table = pd.read_csv(f.path / TABLE)
        curves = pd.read_parquet(f.path / CURVES)
        order = table.assign(_s=pd.to_numeric(table["spearman_E_compression"], errors="coerce").fillna(1.0))
        for name in order.sort_values("_s", ascending=False)["structure"][:worst]:
            c = curves[curves["structure"] == name]
            ax.plot(c["volume_ratio"], c["energy_per_atom"] - c["energy_per_atom"].min(), marker=".", label=name)
        ax.set(xlabel="V / V0", ylabel="E - min E (eV/atom)", title=f"{f.label}: {worst} least monotonic")
        ax.legend(fontsize=7)
    return svg(fig)


class EvScan(Protocol):
    name = "evscan"
    help = "energy-volume scans: physical soundness under extreme deformation"
    description = ("Energy-volume scans under ±strain (MP-ALOE Table I): every lattice vector scaled by (1+s), "
                   "atoms with the cell, single points only; a scan fails with more than one sign change of dE/dV.")
    params = ScanParams
    outputs = (TABLE, CURVES, PLOT)
    headline = ScanHeadline
    metrics = (Metric("ev_failure_percent", "EV fail %", better="lower"),
               Metric("ev_spearman_E", "EV Spearman E"), Metric("ev_spearman_dEdV", "EV Spearman dE/dV"))

    plan = staticmethod(plan)
    analyze = staticmethod(analyze)
    summarize = staticmethod(write_results)

    def scores(self, headline: Mapping, parameters: Mapping) -> dict:
        return {"ev_failure_percent": headline.get("failure_percent"),
                "ev_spearman_E": headline.get("spearman_E_compression"),
                "ev_spearman_dEdV": headline.get("spearman_dEdV_compression")}

    def figures(self) -> tuple:
        return (("EV scans: the worst curves", worst_curves),)


KIND = EvScan()
