"""The comparison's figures, each an inline SVG string (matplotlib), so the page needs nothing from a network."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mdrive import study_kinds  # noqa: E402
from mdrive.compare.data import Folder, speed_fit, speed_points  # noqa: E402


def svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # the element alone, for inlining


def colors(labels: list[str]) -> dict[str, str]:
    return {label: f"C{k % 10}" for k, label in enumerate(labels)}


def speed(folders: list[Folder], labels: list[str]) -> str | None:
    """steps/s against atoms on log–log axes, with each potential's fitted power law."""
    color = colors(labels)
    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = False
    for label in labels:
        points = pd.concat([speed_points(f) for f in folders if f.label == label], ignore_index=True)
        if points.empty:
            continue
        drawn = True
        ax.scatter(points["atoms"], points["steps_per_s"], color=color[label], s=14, label=label)
        fit = speed_fit(points).get("speed_fit")
        if fit:
            n = np.geomspace(points["atoms"].min(), points["atoms"].max(), 20)
            ax.plot(n, np.exp(fit[1]) * n ** fit[0], color=color[label], lw=1, label=f"N^{fit[0]:.2f}")
    if not drawn:
        plt.close(fig)
        return None
    ax.set(xscale="log", yscale="log", xlabel="atoms", ylabel="MD steps/s (one rank)")
    ax.legend(fontsize=8)
    return svg(fig)


def all_figures(folders: list[Folder], labels: list[str]) -> list[tuple[str, str]]:
    """(title, svg) of every figure the folders have data for: each kind's own (drawn from its folders only),
    then the speed of all of them."""
    drawn = []
    for kind in study_kinds.every():
        mine = [f for f in folders if f.kind is kind]
        for title, draw in kind.figures() if mine else ():
            drawn.append((title, draw(mine, labels)))
    drawn.append(("Speed: MD steps/s against atoms", speed(folders, labels)))
    return [(title, image) for title, image in drawn if image is not None]
