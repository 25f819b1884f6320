"""The ramp's figures in `mdrive compare`: survival over the ramps, verdicts and causes, survival per
structure, failures by element present. Each draws from the ramp folders compare was given (the summary and
survival tables the protocol names) and returns an inline SVG, or None without data."""
from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from mdrive.compare.data import Folder
from mdrive.compare.figures import colors, plt, svg

FAILED = ("invalid", "error")


def _number(text) -> float | None:
    """A manifest parameter such as '300 K' or '500 GPa' as its number."""
    try:
        return float(str(text).split()[0])
    except (ValueError, IndexError):
        return None


def survival_curves(folders: list[Folder], labels: list[str], table: str) -> str | None:
    """Valid runs against normalized time, every potential overlaid, one panel per ensemble, T (and P) ramp
    on the top axis."""
    tables = [(f, pd.read_csv(f.path / table)) for f in folders if (f.path / table).is_file()]
    if not tables:
        return None
    ensembles = list(dict.fromkeys(e for _, t in tables for e in t["ensemble"]))
    fig, axes = plt.subplots(1, len(ensembles), figsize=(6 * len(ensembles), 3.8), squeeze=False)
    color = colors(labels)
    for ax, ensemble in zip(axes[0], ensembles):
        for f, t in tables:
            rows = t[t["ensemble"] == ensemble]
            if len(rows):
                ax.step(rows["normalized_time"], rows["percent_valid"], where="post", color=color[f.label],
                        label=f.label)
        ax.set(xlabel="normalized time", ylabel="valid runs (%)", ylim=(0, 105), xlim=(0, 1),
               title=ensemble.upper())
        p = tables[0][0].parameters
        t0, t1 = _number(p.get("t_start")), _number(p.get("t_stop"))
        if t0 is not None and t1 is not None:
            top = ax.secondary_xaxis("top", functions=(lambda x, a=t0, b=t1: a + (b - a) * x,
                                                       lambda y, a=t0, b=t1: (y - a) / (b - a) if b != a else y))
            top.set_xlabel("target T (K)" + (f"; P {p.get('p_start')} → {p.get('p_stop')}" if ensemble == "npt"
                                             else ""))
        ax.legend(fontsize=8, loc="lower left")
    return svg(fig)


def _summaries(folders: list[Folder], table: str) -> list[tuple[Folder, pd.DataFrame]]:
    return [(f, pd.read_csv(f.path / table)) for f in folders if (f.path / table).is_file()]


def failure_causes(folders: list[Folder], labels: list[str], table: str) -> str | None:
    """Ramp runs per potential by verdict and cause, stacked."""
    tables = _summaries(folders, table)
    if not tables:
        return None
    counts = {}
    for f, t in tables:
        what = np.where(t["status"] == "valid", "valid",
                        t["status"] + ": " + t["cause"].fillna("").astype(str)).tolist()
        for k in what:
            k = _short(k.rstrip(": "))
            counts.setdefault(f.label, {}).setdefault(k, 0)
            counts[f.label][k] += 1
    frame = pd.DataFrame(counts).T.reindex([lab for lab in labels if lab in counts][::-1]).fillna(0)  # 1st on top
    frame = frame[sorted(frame.columns, key=lambda c: (c != "valid", c))]
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(frame) + 2))
    others = [f"C{k}" for k in (3, 1, 4, 5, 6, 8, 9, 7, 0)]  # green is kept for valid runs
    colors = (["C2"] if "valid" in frame else []) + others[:len(frame.columns) - ("valid" in frame)]
    frame.plot.barh(stacked=True, ax=ax, color=colors)
    ax.set(xlabel="ramp runs", ylabel="")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return svg(fig)


def _short(text: str, most: int = 60) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"


def survival_map(folders: list[Folder], labels: list[str], table: str) -> str | None:
    """Fraction of the scheduled steps each run stayed valid: potential × structure (and ensemble)."""
    tables = _summaries(folders, table)
    if not tables:
        return None
    cells = pd.concat([t.assign(potential=f.label, column=t["structure"] + " " + t["ensemble"])
                       for f, t in tables], ignore_index=True)
    grid = cells.pivot_table(index="potential", columns="column", values="fraction_valid", aggfunc="first")
    grid = grid.reindex([lab for lab in labels if lab in grid.index])
    fig, ax = plt.subplots(figsize=(max(5, 0.45 * grid.shape[1] + 2.5), 0.5 * grid.shape[0] + 2))
    image = ax.imshow(grid.to_numpy(float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=8)
    fig.colorbar(image, ax=ax, label="fraction of steps valid")
    return svg(fig)


def _table_position(z: int) -> tuple[int, int]:
    """(row, column) of element Z in the 18-column periodic table, f-block in rows 8-9. Written here: the
    library that draws periodic-table heat maps (pymatviz) pulls in pymatgen, plotly and scikit-learn."""
    starts = [(1, 1), (3, 2), (11, 3), (19, 4), (37, 5), (55, 6), (87, 7)]
    period = max(k for k, (first, _) in enumerate(starts) if z >= first)
    first, row = starts[period]
    offset = z - first
    if z == 2:
        return 1, 18
    if period <= 2:
        return row, offset + 1 if offset < 2 else offset + 11
    if period <= 4:
        return row, offset + 1
    if 57 <= z <= 71 or 89 <= z <= 103:
        return row + 2, (z - (57 if z <= 71 else 89)) + 3
    return row, offset + 1 if offset < 2 else offset - 13


def element_failures(folders: list[Folder], labels: list[str], table: str) -> str | None:
    """Per potential, the share of failed ramp runs (invalid or error, of those scored) among runs whose
    structure holds each element, on a periodic table."""
    from ase.data import atomic_numbers, chemical_symbols
    from ase.formula import Formula

    tables = _summaries(folders, table)
    if not tables:
        return None
    shown = [lab for lab in labels if any(f.label == lab for f, _ in tables)]
    rows = -(-len(shown) // 2)
    fig, axes = plt.subplots(rows, 2, figsize=(14, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.axis("off")
    for ax, label in zip(axes.flat, shown):
        t = pd.concat([t for f, t in tables if f.label == label], ignore_index=True)
        t = t[t["status"].isin(("valid", *FAILED))]
        rates = {}
        for element in sorted({e for formula in t["formula"] for e in Formula(formula).count()}):
            holds = t[[element in Formula(x).count() for x in t["formula"]]]
            rates[element] = float(holds["status"].isin(FAILED).mean())
        grid = np.full((9, 18), np.nan)
        for element, rate in rates.items():
            row, col = _table_position(atomic_numbers[element])
            grid[row - 1, col - 1] = rate
        image = ax.imshow(grid, cmap="Reds", vmin=0, vmax=1)
        for z in range(1, 119):
            row, col = _table_position(z)
            symbol = chemical_symbols[z]
            ax.text(col - 1, row - 1, symbol, ha="center", va="center", fontsize=6,
                    color="black" if symbol in rates else "0.75")
        ax.set_title(f"{label}: failed runs by element present", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.025, label="failed / scored")
    return svg(fig)


def figures(summary: str, survival: str) -> tuple:
    """(title, draw) of each figure, reading the ramp's tables by the names the protocol gives them."""
    return (("Valid runs over the ramps", partial(survival_curves, table=survival)),
            ("Ramp verdicts and failure causes", partial(failure_causes, table=summary)),
            ("Survival per structure", partial(survival_map, table=summary)),
            ("Failure rate by element present", partial(element_failures, table=summary)))
