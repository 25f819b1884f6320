"""Results of a melt-quench: one run's trace and final structure (OVITO, structure_analysis), then the
tables and headline over every run."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from ase import Atoms

from mdrive import metrics, units
from mdrive.jobs import read_run_log, run_tables
from mdrive.manifest import write_text
from mdrive.protocols.meltquench.tg import glass_transition

if TYPE_CHECKING:  # annotations only: the params module imports this one
    from mdrive.protocols.meltquench import QuenchParams


TRACE, RDF, FINAL_DATA, FINAL_XYZ, SNAPSHOT = "trace.csv", "rdf.csv", "final.data", "final.extxyz", "snapshot.png"
STRUCTURE_TABLE, STAGES_TABLE, TRACES_PLOT, COORDINATION_PLOT = "structure.csv", "stages.csv", "traces.png", \
    "coordination.png"
OUTPUTS = (STRUCTURE_TABLE, STAGES_TABLE, TRACES_PLOT, COORDINATION_PLOT)


def analyze(run_dir: Path, info: dict, error: str | None = None) -> dict:
    if info["kind"] == "crystal":
        return _analyze_crystal(run_dir, info, error)
    result = {k: info[k] for k in ("run", "structure", "replica", "seed", "n_atoms", "formula")}
    result.update(status="error", cause=None, stages_done=0, steps_done=0, steps_target=info["steps_target"])
    log, error = read_run_log(run_dir, error)
    stage_runs = log.runs[1:] if log else []  # runs[0]: validity.in's reference `run 0`
    trace = _trace(stage_runs, info)
    if len(trace):
        write_text(run_dir / TRACE, trace.to_csv(index=False))
        result["steps_done"] = int(trace["step"].max())
    result["stages_done"] = sum(r.ended == "completed" for r in stage_runs)
    bad, cause, runaway = None, None, False
    if log and log.runs and not log.runs[0].thermo.empty and len(stage_runs):
        ref = log.runs[0].thermo.iloc[0]
        rows = pd.concat([r.thermo for r in stage_runs], ignore_index=True)
        bad, cause = metrics.first_invalid(rows, ref["PotEng"] / ref["Atoms"], ref["Volume"])
        runaway = metrics.running_away(rows, ref["PotEng"] / ref["Atoms"], ref["Volume"])
    if bad is not None:
        result["status"], result["cause"] = "invalid", cause
    elif error:
        result["status"], result["cause"] = metrics.classify_error(error, runaway)
    elif any(r.halted_by == "mdrive_guard" for r in stage_runs):  # validity.in's every-step volume rule
        result["status"], result["cause"] = "invalid", metrics.VOLUME_CAUSE
    elif result["stages_done"] == len(info["stages"]) and (run_dir / FINAL_DATA).exists():
        result["status"] = "valid"
        result.update(_final_structure(run_dir, info, stage_runs))
    else:
        result["status"] = "censored"
        result["cause"] = "stopped early" if any(r.halted_by == "mdrive_stop" for r in stage_runs) else "log cut off"
    result.update(glass_transition(trace, info))
    return result


def _trace(stage_runs, info: dict) -> pd.DataFrame:
    frames = []
    for k, (run, label) in enumerate(zip(stage_runs, info["stages"]), 1):
        t = run.thermo
        if t.empty:
            continue
        frames.append(pd.DataFrame({
            "stage": k, "label": label, "step": t["Step"], "time_ps": t.get("Time", np.nan),
            "temp": t["Temp"], "press_gpa": units.from_lammps(t["Press"], "pressure"), "volume": t["Volume"],
            "density_g_cm3": t["Density"], "pe_per_atom": t["PotEng"] / t["Atoms"],
            "cn_mean": t.get("c_mdrive_cnmean", np.nan)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _final_structure(run_dir: Path, info: dict, stage_runs) -> dict:
    from mdrive import structure_analysis

    atoms = read_final(run_dir / FINAL_DATA, info["elements"])
    import ase.io  # here: ~0.7 s of imports a refused option should not wait for

    ase.io.write(run_dir / FINAL_XYZ, atoms, format="extxyz", parallel=False)
    found, rdf = structure_analysis.analyze(atoms, info["cn_cutoff"])
    write_text(run_dir / RDF, rdf.to_csv(index=False))
    tmp = run_dir / ".snapshot.tmp.png"
    if structure_analysis.render(atoms, info["cn_cutoff"], tmp):
        tmp.replace(run_dir / SNAPSHOT)
    last = stage_runs[-1].thermo.iloc[-1]
    found["final_energy_per_atom"] = float(last["PotEng"] / last["Atoms"])
    found["final_minimised"] = info["stages"][-1].startswith("min")
    return found


def read_final(path: Path, elements: list[str]) -> Atoms:
    import ase.io
    from ase.data import atomic_numbers

    atoms = ase.io.read(path, format="lammps-data", atom_style="atomic", units="metal",
                        Z_of_type={k + 1: atomic_numbers[e] for k, e in enumerate(elements)}, parallel=False)
    atoms.wrap()
    return atoms


def _analyze_crystal(run_dir: Path, info: dict, error: str | None) -> dict:
    result = {"run": info["run"], "kind": "crystal", "status": "error", "cause": error, "n_atoms": info["n_atoms"]}
    log, _ = read_run_log(run_dir)
    if log and not error and not log.error and log.runs and not log.runs[-1].thermo.empty:
        last = log.runs[-1].thermo.iloc[-1]
        result.update(status="valid", cause=None, energy_per_atom=float(last["PotEng"] / last["Atoms"]),
                   density_g_cm3=float(last["Density"]), volume_per_atom=float(last["Volume"] / last["Atoms"]))
    elif log and log.error:
        result["cause"] = metrics.classify_error(log.error)[1]
    return result


# --- results: all runs -----------------------------------------------------------------------------

METRIC_COLUMNS = ["density_g_cm3", "cn_mean", "cn2_fraction", "cn3_fraction", "cn4_fraction", "cn5_fraction",
                  "cn6_fraction", "sp_fraction", "sp2_fraction", "sp3_fraction", "diamond_fraction",
                  "cna_crystalline_fraction", "final_energy_per_atom", "excess_energy_per_atom", "tg_k"]
ID_COLUMNS = ["run", "structure", "replica", "seed", "status", "cause", "n_atoms", "formula", "cn_cutoff"]


def structure_table(rows: list[dict]) -> pd.DataFrame:
    """One row per replica, then per start structure group the mean and the standard deviation."""
    crystal = next((r for r in rows if r.get("kind") == "crystal"), None)
    quench = pd.DataFrame([r for r in rows if r.get("kind") != "crystal"])
    if quench.empty:
        return pd.DataFrame(columns=ID_COLUMNS + METRIC_COLUMNS)
    e_ref = crystal.get("energy_per_atom") if crystal else None
    minimised = quench.get("final_minimised", pd.Series(False, index=quench.index)).fillna(False).astype(bool)
    final = pd.to_numeric(quench.get("final_energy_per_atom"), errors="coerce")
    quench["excess_energy_per_atom"] = np.where(minimised & (e_ref is not None), final - (e_ref or 0), np.nan)
    quench["group"] = quench["run"].str.replace(r"-r\d+$", "", regex=True)
    # runs that never reached the analysis (censored, failed) lack some of these
    quench = quench.reindex(columns=list(quench.columns) + [c for c in ID_COLUMNS if c not in quench])
    columns = ID_COLUMNS + [c for c in METRIC_COLUMNS if c in quench]
    table = quench.sort_values(["group", "replica"])[["group"] + columns]
    valid = table[table["status"] == "valid"]
    stats = []
    for name, g in valid.groupby("group", sort=True):
        for stat in ("mean", "std"):
            values = g[[c for c in METRIC_COLUMNS if c in g]].apply(pd.to_numeric, errors="coerce")
            row = {"group": name, "run": f"{name} ({stat})", "structure": name, "status": f"{len(g)} valid",
                   **(values.mean() if stat == "mean" else values.std(ddof=1 if len(g) > 1 else 0)).to_dict()}
            stats.append(row)
    table = pd.concat([table, pd.DataFrame(stats)], ignore_index=True).drop(columns="group")
    return table.astype({c: "Int64" for c in ("replica", "seed", "n_atoms")})


def write_results(out: Path, rows: list[dict], params: QuenchParams) -> tuple[str, dict]:
    from mdrive import plots
    from mdrive.manifest import atomic_path

    table = structure_table(rows)
    write_text(out / STRUCTURE_TABLE, table.to_csv(index=False))
    trace = run_tables(out, TRACE)
    if trace is not None:
        write_text(out / STAGES_TABLE, trace.to_csv(index=False))
        with atomic_path(out / TRACES_PLOT) as tmp:
            plots.quench_traces(trace, tmp)
    replicas_done = table[table["run"].isin([r["run"] for r in rows if r.get("status") == "valid"])]
    if not replicas_done.empty:
        with atomic_path(out / COORDINATION_PLOT) as tmp:
            plots.coordination(replicas_done, tmp)
    crystal = next((r for r in rows if r.get("kind") == "crystal"), None)
    head = headline(table, crystal)
    return headline_text(head), head


def headline(table: pd.DataFrame, crystal: dict | None) -> dict:
    result = {"reference_crystal_energy_per_atom": crystal.get("energy_per_atom") if crystal else None}
    for _, row in table[table["run"].str.endswith("(mean)")].iterrows():
        std = table[table["run"] == row["run"].replace("(mean)", "(std)")].iloc[0]
        result[row["structure"]] = {"replicas_valid": int(row["status"].split()[0]), **{
            c: [_round(row[c]), _round(std[c])] for c in ("density_g_cm3", "cn4_fraction", "sp3_fraction",
                                                          "excess_energy_per_atom", "tg_k") if c in row}}
    quench = table[~table["run"].str.contains(r"\((?:mean|std)\)$")]
    result["runs"] = {s: int(n) for s, n in quench["status"].value_counts().items()}
    return result


def headline_text(head: dict) -> str:
    lines = []
    for name, h in head.items():
        if not isinstance(h, dict) or "replicas_valid" not in h:
            continue
        parts = [f"{name} ({h['replicas_valid']} valid replicas):"]
        labels = {"density_g_cm3": ("density", "g/cm³"), "cn4_fraction": ("4-fold", ""),
                  "sp3_fraction": ("sp3", ""), "excess_energy_per_atom": ("excess E", "eV/atom"),
                  "tg_k": ("Tg", "K")}
        for key, (label, unit) in labels.items():
            mean, std = h.get(key, [None, None])
            if mean is not None:
                spread = f" ± {std:.2g}" if std is not None else ""
                parts.append(f"{label} {mean:.4g}{spread} {unit}".rstrip())
        lines.append(" ".join(parts[:1]) + " " + ", ".join(parts[1:]))
    runs = ", ".join(f"{n} {s}" for s, n in head.get("runs", {}).items())
    return "\n".join(lines + [f"meltquench runs: {runs}"])


def _round(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(value) else round(value, 5)
