"""Plots (matplotlib, no display needed)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def survival(table: pd.DataFrame, ramps: dict, path: Path) -> None:
    """% of runs still valid against normalized time (MP-ALOE Fig. 5), the T (and P) ramp on a twin axis.

    `ramps` maps ensemble -> (t_start, t_stop, p_start, p_stop or None)."""
    ensembles = list(dict.fromkeys(table["ensemble"]))
    fig, axes = plt.subplots(1, max(1, len(ensembles)), figsize=(5.5 * max(1, len(ensembles)), 4), squeeze=False)
    for ax, ens in zip(axes[0], ensembles):
        rows = table[table["ensemble"] == ens]
        ax.step(rows["normalized_time"], rows["percent_valid"], where="post", color="C0", label="valid runs")
        if "percent_valid_km" in rows and (rows["percent_valid_km"] != rows["percent_valid"]).any():
            ax.step(rows["normalized_time"], rows["percent_valid_km"], where="post", color="C0", ls="--",
                    label="Kaplan–Meier (censored kept)")
        ax.set(xlabel="normalized time", ylabel="valid runs (%)", ylim=(0, 105), xlim=(0, 1), title=ens.upper())
        t0, t1, p0, p1 = ramps.get(ens, (None, None, None, None))
        if t0 is not None:
            twin = ax.twinx()
            twin.plot([0, 1], [t0, t1], color="C3", lw=1)
            twin.set_ylabel("target T (K)", color="C3")
            if p1 is not None:
                twin.set_ylabel(f"target T (K); P {p0:g} → {p1:g} GPa", color="C3")
        ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def evscan(curves: pd.DataFrame, table: pd.DataFrame, path: Path, worst: int = 6) -> None:
    """The `worst` curves (most dE/dV sign changes, then Spearman E furthest from -1) and the metric
    distributions."""
    ranked = table.assign(
        _sc=pd.to_numeric(table["sign_changes"], errors="coerce").fillna(99),
        _sp=pd.to_numeric(table["spearman_E_compression"], errors="coerce").fillna(1.0),
    ).sort_values(["_sc", "_sp"], ascending=[False, False])
    names = list(ranked["structure"][:worst])
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for name in names:
        c = curves[curves["structure"] == name]
        axes[0, 0].plot(c["volume_ratio"], c["energy_per_atom"] - c["energy_per_atom"].min(), marker=".", label=name)
        axes[0, 1].plot(c["volume_ratio"], c["pressure_gpa"], marker=".", label=name)
    axes[0, 0].set(xlabel="V / V0", ylabel="E - min E (eV/atom)", title="worst curves")
    axes[0, 1].set(xlabel="V / V0", ylabel="P (GPa)", title="pressure")
    axes[0, 0].legend(fontsize=7)
    axes[0, 2].hist(pd.to_numeric(table["sign_changes"], errors="coerce").dropna(), bins=range(0, 12))
    axes[0, 2].set(xlabel="dE/dV sign changes", ylabel="structures")
    axes[1, 0].hist(pd.to_numeric(table["spearman_E_compression"], errors="coerce").dropna(), bins=20, range=(-1, 1))
    axes[1, 0].set(xlabel="Spearman E, compression (ideal -1)")
    axes[1, 1].hist(pd.to_numeric(table["spearman_dEdV_compression"], errors="coerce").dropna(), bins=20, range=(-1, 1))
    axes[1, 1].set(xlabel="Spearman dE/dV, compression (ideal +1)")
    counts = table["status"].value_counts()
    axes[1, 2].bar(["passed", "failed", "set-up error"], [counts.get(k, 0) for k in ("valid", "invalid", "error")],
                   color=["C2", "C3", "C7"])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def quench_traces(trace: pd.DataFrame, path: Path) -> None:
    """T, density, potential energy and mean coordination against simulation time, every run of a
    melt-quench, stage boundaries dashed (from the first run)."""
    panels = [("temp", "T (K)"), ("density_g_cm3", "density (g/cm³)"), ("pe_per_atom", "E_pot (eV/atom)"),
              ("cn_mean", "mean coordination")]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    md = trace[trace["time_ps"].notna()]
    for ax, (column, label) in zip(axes.flat, panels):
        for k, (run, rows) in enumerate(md.groupby("run", sort=True)):
            ax.plot(rows["time_ps"], rows[column], lw=0.8, color=f"C{k % 10}", label=run)
        ax.set(ylabel=label)
    first = md[md["run"] == md["run"].min()]
    for _, rows in first.groupby("stage"):
        for ax in axes.flat:
            ax.axvline(rows["time_ps"].iloc[0], color="0.6", ls="--", lw=0.6)
    for ax in axes[1]:
        ax.set_xlabel("time (ps)")
    if md["run"].nunique() <= 10:
        axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def coordination(table: pd.DataFrame, path: Path) -> None:
    """Coordination histogram of the final structures: mean over replicas, standard deviation as bars."""
    ks = [k for k in range(9) if f"cn{k}_fraction" in table]
    values = table[[f"cn{k}_fraction" for k in ks]].apply(pd.to_numeric, errors="coerce") * 100
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.bar(ks, values.mean(), yerr=values.std(ddof=0) if len(values) > 1 else None, color="C0", capsize=3)
    cutoff = table["cn_cutoff"].iloc[0] if "cn_cutoff" in table else None
    ax.set(xlabel="coordination number" + (f" (cutoff {cutoff:g} Å)" if cutoff else ""), ylabel="atoms (%)",
           xticks=ks, title=f"final structures ({len(values)} replicas)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def isotherm(table: pd.DataFrame, path: Path) -> None:
    """Loading (mean number of atoms, block errors) against the reservoir's μ or pressure."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for reservoir, rows in table.groupby("reservoir"):
        rows = rows.sort_values("value")
        ax.errorbar(rows["value"], rows["n_mean"], yerr=pd.to_numeric(rows["n_err"], errors="coerce"),
                    marker="o", capsize=3, label=reservoir)
        if reservoir == "pressure" and (rows["value"] > 0).all() and len(rows) > 2:
            ax.set_xscale("log")
    ax.set(xlabel="reservoir μ or pressure (deck units)", ylabel="⟨N⟩", title="isotherm")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scaling(table: pd.DataFrame, kind: str, path: Path) -> None:
    """ns/day and parallel efficiency against ranks (MACE-MP-0 Fig. 55), log-scaled ranks."""
    rows = table.sort_values("ranks")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(rows["ranks"], rows["ns_per_day"], marker="o")
    left.set(xscale="log", xlabel="MPI ranks", ylabel="ns/day", title=f"{kind} scaling")
    right.plot(rows["ranks"], rows["efficiency"], marker="o", color="C1")
    right.axhline(1.0, color="0.6", ls="--", lw=0.8)
    right.set(xscale="log", xlabel="MPI ranks", ylabel="efficiency", ylim=(0, 1.1 * max(1.0, rows["efficiency"].max())))
    for ax in (left, right):
        ax.set_xticks(rows["ranks"], [str(r) for r in rows["ranks"]])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
