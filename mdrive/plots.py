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
