"""The ramp demo timed against another commit of mdrive, checked out beside this tree, in ABBA order: this machine
slows under sustained load (the second of two back-to-back demos ran up to 25 % slower, whichever code it ran), so
each side goes first as often as second."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def demo_wall(tree: Path, out: Path) -> tuple[float, str]:
    """Wall time of `mpirun -np 2 python -m mdrive ramp` (the built-in demo) run from `tree`, and its headline."""
    cmd = [str(BIN / "mpirun"), "-np", "2", sys.executable, "-m", "mdrive", "ramp", "--out", str(out)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env={**ENV, "PYTHONPATH": str(tree)})
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return time.perf_counter() - t, proc.stdout.strip()


def walls(before: str, tmp: Path, repeats: int) -> tuple[dict[str, list[float]], dict[str, str]]:
    """{"before": [s...], "after": [s...]} of the demo at commit `before` and in this tree, and each side's
    headline."""
    tree = tmp / "before"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), before], cwd=ROOT, check=True, capture_output=True)
    out, said = {"before": [], "after": []}, {}
    try:
        for so in (ROOT / "mdrive").glob("_rowscan*.so"):  # the same compiled log scanner on both sides
            shutil.copy(so, tree / "mdrive")
        for k in range(repeats):
            sides = [("before", tree), ("after", ROOT)]
            for side, where in sides if k % 2 == 0 else sides[::-1]:
                wall, said[side] = demo_wall(where, tmp / f"{side}{k}")
                out[side].append(round(wall, 1))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    return out, said
