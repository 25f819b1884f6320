"""`mdrive evscan`: physical soundness under static extreme deformation (MP-ALOE Table I, docs/protocols §2).

Each structure's lattice vectors are scaled by (1+s), s evenly spaced in [-strain, +strain] (Arena: ±20 %,
21 points), atoms scaled with the cell, single points only: one deck (inputs/evscan.in) loops over s.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mdrive import decks, metrics
from mdrive.errors import InputError
from mdrive.jobs import Job, read_run_log
from mdrive.params import param
from mdrive.potentials import Potential
from mdrive.protocol import Protocol, Study, read_structures
from mdrive.structures import Structure, formula

BAR_TO_GPA = 1e-4
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
    out = {"structure": info["structure"], "n_atoms": info["n_atoms"], "formula": info["formula"],
           "status": "error", "cause": None, "failed": None, "sign_changes": None,
           "spearman_E_compression": None, "spearman_dEdV_compression": None, "curve": []}
    log, error = read_run_log(run_dir, error)
    rows = [r.thermo.iloc[-1] for r in (log.runs if log else []) if len(r.thermo)]
    strains = np.asarray(info["strains"])
    if error or len(rows) != len(strains):
        if not error:
            out["status"], out["cause"] = "censored", f"stopped after {len(rows)} of {len(strains)} points"
        elif not rows:
            out["cause"] = metrics.classify_error(error)[1]
        else:
            cause = metrics.classify_error(error, True)[1]
            out["status"], out["cause"] = "invalid", f"{cause} at point {len(rows) + 1}"
            out["failed"] = True
        return out
    points = pd.DataFrame(rows)
    energy, volume = points["PotEng"].to_numpy(), points["Volume"].to_numpy()
    out.update(curve_metrics(strains, energy, volume))
    out["status"] = "invalid" if out["failed"] else "valid"
    if out["failed"]:
        changes = out["sign_changes"]
        out["cause"] = "energy not finite" if changes is None else f"{changes} sign changes of dE/dV"
    out["curve"] = [{"strain": float(s), "volume": float(v), "volume_ratio": float(v / volume[len(volume) // 2]),
                     "energy": float(e), "energy_per_atom": float(e / info["n_atoms"]),
                     "pressure_gpa": float(p * BAR_TO_GPA)}
                    for s, v, e, p in zip(strains, volume, energy, points["Press"])]
    return out


# --- outputs ---------------------------------------------------------------------------------------


def write_results(out: Path, rows: list[dict], params: ScanParams) -> tuple[str, dict]:
    from mdrive import plots
    from mdrive.manifest import atomic_path, write_text

    table = pd.DataFrame(rows).reindex(columns=EVSCAN_COLUMNS)
    table = table.sort_values("structure", kind="stable").reset_index(drop=True)
    write_text(out / "evscan.csv", table[EVSCAN_COLUMNS].to_csv(index=False))
    curves = pd.DataFrame([{"structure": r["structure"], **p} for r in rows for p in r.get("curve", [])])
    if not curves.empty:
        with atomic_path(out / "curves.parquet") as tmp:
            curves.to_parquet(tmp, index=False)
        with atomic_path(out / "evscan.png") as tmp:
            plots.evscan(curves, table, tmp)
    head = headline(table)
    return headline_text(head), head


def headline(table: pd.DataFrame) -> dict:
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


PROTOCOL = Protocol(
    "evscan", "energy-volume scans: physical soundness under extreme deformation",
    "Energy-volume scans under ±strain (MP-ALOE Table I): every lattice vector scaled by (1+s), atoms with "
    "the cell, single points only; a scan fails with more than one sign change of dE/dV.",
    ScanParams, plan, analyze, write_results)
