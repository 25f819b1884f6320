"""Plots (matplotlib, no display needed)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def survival(table: pd.DataFrame, ramps: dict, path: Path) -> None:
    """% of runs still valid against normalized time (MP-ALOE Fig. 5), the T (and P) ramp on a twin axis.

    `ramps` maps ensemble -> (t_start, t_stop, p_start, p_stop or None)."""
    ensembles = list(dict.fromkeys(table["ensemble"]))
    fig, axes = plt.subplots(1, max(1, len(ensembles)), figsize=(6.5 * max(1, len(ensembles)), 4), squeeze=False)
    for ax, ens in zip(axes[0], ensembles):
        rows = table[table["ensemble"] == ens]
        ax.step(rows["normalized_time"], rows["percent_valid"], where="post", color="C0", label="valid runs")
        if "percent_valid_km" in rows and (rows["percent_valid_km"] != rows["percent_valid"]).any():
            ax.step(rows["normalized_time"], rows["percent_valid_km"], where="post", color="C0", ls="--",
                    label="Kaplan–Meier (censored kept)")
        ax.set(xlabel="normalized time", ylabel="valid runs (%)", ylim=(0, 105), xlim=(0, 1), title=ens.upper())
        t0, t1, p0, p1 = ramps.get(ens, (None, None, None, None))
        lines = ax.get_legend_handles_labels()
        if t0 is not None:
            twin = ax.twinx()
            lines[0].extend(twin.plot([0, 1], [t0, t1], color="C3", lw=1, label="target T"))
            lines[1].append("target T")
            twin.set_ylabel("target T (K)", color="C3")
        if p1 is not None:  # the pressure ramp on its own axis, right of the temperature's
            press = ax.twinx()
            press.spines.right.set_position(("axes", 1.18))
            lines[0].extend(press.plot([0, 1], [p0, p1], color="C2", lw=1, ls="--", label="target P"))
            lines[1].append("target P")
            press.set_ylabel("target P (GPa)", color="C2")
        ax.legend(*lines, loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def evscan(curves: pd.DataFrame, table: pd.DataFrame, path: Path, worst: int = 6) -> None:
    """The worst curves: the failed scans (up to `worst`, most dE/dV sign changes first), or when none failed
    the three least monotonic under compression; and the metric distributions, counted in whole scans."""
    ranked = table.assign(
        _sc=pd.to_numeric(table["sign_changes"], errors="coerce").fillna(99),
        _sp=pd.to_numeric(table["spearman_E_compression"], errors="coerce").fillna(1.0),
    ).sort_values(["_sc", "_sp"], ascending=[False, False])
    failed = ranked[ranked["status"] == "invalid"]
    shown = failed[:worst] if len(failed) else ranked[ranked["status"] == "valid"][:3]
    names = list(shown["structure"])
    title = f"failed scans ({len(failed)})" if len(failed) else "no scan failed: the 3 least monotonic"
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for name in names:
        c = curves[curves["structure"] == name]
        axes[0, 0].plot(c["volume_ratio"], c["energy_per_atom"] - c["energy_per_atom"].min(), marker=".", label=name)
        axes[0, 1].plot(c["volume_ratio"], c["pressure_gpa"], marker=".", label=name)
    axes[0, 0].set(xlabel="V / V0", ylabel="E - min E (eV/atom)", title=title)
    axes[0, 1].set(xlabel="V / V0", ylabel="P (GPa)", title="pressure")
    axes[0, 0].legend(fontsize=7)
    axes[0, 2].hist(pd.to_numeric(table["sign_changes"], errors="coerce").dropna(), bins=np.arange(-0.5, 11.5))
    axes[0, 2].set(xlabel="dE/dV sign changes (more than 1: failed)", ylabel="scans")
    axes[1, 0].hist(pd.to_numeric(table["spearman_E_compression"], errors="coerce").dropna(), bins=20, range=(-1, 1))
    axes[1, 0].set(xlabel="Spearman E, compression (ideal -1)", ylabel="scans")
    axes[1, 1].hist(pd.to_numeric(table["spearman_dEdV_compression"], errors="coerce").dropna(), bins=20, range=(-1, 1))
    axes[1, 1].set(xlabel="Spearman dE/dV, compression (ideal +1)", ylabel="scans")
    counts = table["status"].value_counts()
    axes[1, 2].bar(["passed", "failed", "set-up error"], [counts.get(k, 0) for k in ("valid", "invalid", "error")],
                   color=["C2", "C3", "C7"])
    axes[1, 2].set(ylabel="scans")
    for ax in (axes[0, 2], axes[1, 0], axes[1, 1], axes[1, 2]):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def quench_traces(trace: pd.DataFrame, path: Path) -> None:
    """T, density, potential energy and mean coordination against MD time, every run of a melt-quench.
    Stages are numbered at their start (dashed, from the first run); a minimisation takes no MD time, so it is
    a dotted line where it happens, labelled 'min', and its rows are left out of the time axis."""
    panels = [("temp", "T (K)"), ("density_g_cm3", "density (g/cm³)"), ("pe_per_atom", "E_pot (eV/atom)"),
              ("cn_mean", "mean coordination")]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    is_min = trace["label"].astype(str).str.startswith("min") if "label" in trace else False
    md = trace[trace["time_ps"].notna() & ~is_min]
    for ax, (column, label) in zip(axes.flat, panels):
        for k, (run, rows) in enumerate(md.groupby("run", sort=True)):
            ax.plot(rows["time_ps"], rows[column], lw=0.8, color=f"C{k % 10}", label=run)
        ax.set(ylabel=label)
    first = trace[trace["run"] == trace["run"].min()]
    for stage, rows in first.groupby("stage"):
        minimising = str(rows["label"].iloc[0]).startswith("min") if "label" in rows else False
        at = rows["time_ps"].iloc[0] if not minimising else rows["time_ps"].iloc[-1]
        if pd.isna(at):
            continue
        for ax in axes.flat:
            ax.axvline(at, color="0.5" if minimising else "0.6", ls=":" if minimising else "--", lw=0.7)
        label = str(rows["label"].iloc[0]).split(":pot=")[0] if "label" in rows else ""
        axes[0, 0].annotate(f"{stage} {label}", (at, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                            xytext=(-9 if minimising else 2, -3), textcoords="offset points", fontsize=7,
                            color="0.3", ha="left", va="top")
    for ax in axes[1]:
        ax.set_xlabel("MD time (ps); minimisations take none")
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
    """Loading <N> (block errors) against the reservoir's μ or pressure, in the unit the runs used, at T."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    names = {"mu": "reservoir μ", "pressure": "reservoir pressure"}
    labels = []
    for (reservoir, unit), rows in table.groupby(["reservoir", table["unit"].fillna("")]):
        rows = rows.sort_values("value")
        ax.errorbar(rows["value"], rows["n_mean"], yerr=pd.to_numeric(rows["n_err"], errors="coerce"),
                    marker="o", capsize=3)
        labels.append(f"{names.get(reservoir, reservoir)} ({unit})" if unit else names.get(reservoir, reservoir))
        if reservoir == "pressure" and (rows["value"] > 0).all() and len(rows) > 2:
            ax.set_xscale("log")
    temps = ", ".join(f"{t:g}" for t in sorted(table["temperature"].dropna().unique()))
    reduced = (table["unit"] == "reduced").all() if "unit" in table else False
    ax.set(xlabel="; ".join(labels), ylabel=r"$\langle N \rangle$ (atoms in the cell)",
           title=f"isotherm at T = {temps}{' (reduced)' if reduced else ' K'}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def voltage_curve(curve: pd.DataFrame, plateaus: tuple, path: Path) -> None:
    """V against x in LixC6 (bootstrap errors in x), with the measured staging plateaus as lines."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.errorbar(curve["x_mean"], curve["voltage"], xerr=pd.to_numeric(curve["x_err"], errors="coerce"), marker="o",
                capsize=3, label="GCMC chains")
    for k, v in enumerate(plateaus):
        ax.axhline(v, color="grey", linestyle=":", label="measured plateaus" if k == 0 else None)
    ax.set(xlabel="x in Li$_x$C$_6$", ylabel="V vs Li/Li$^+$ (V)", title="Li in graphite")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def widom_convergence(curves: pd.DataFrame, table: pd.DataFrame, path: Path) -> None:
    """μ_ex from the first n insertion rounds against n, every run: a flat end means a converged estimate;
    the final value's block error as a band."""
    fig, ax = plt.subplots(figsize=(6, 4))
    errors = table.set_index("run")["mu_ex_err"] if "mu_ex_err" in table else pd.Series(dtype=float)
    for k, (run, rows) in enumerate(curves.groupby("run", sort=True)):
        color = f"C{k % 10}"
        ax.plot(rows["samples"], rows["mu_ex"], color=color, lw=1, label=run)
        err = pd.to_numeric(pd.Series([errors.get(run)]), errors="coerce").iloc[0]
        if pd.notna(err):
            end = rows["mu_ex"].iloc[-1]
            ax.axhspan(end - err, end + err, color=color, alpha=0.15, lw=0)
    ax.set(xlabel="insertion rounds averaged", ylabel="μ_ex (eV, or ε with --lj)", title="Widom μ_ex convergence")
    if curves["run"].nunique() <= 10:
        ax.legend(fontsize=7)
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
