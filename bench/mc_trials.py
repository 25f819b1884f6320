"""Cost of one MC trial: mdrive's exact engine against fix gcmc full_energy on the same classical system (EAM Cu,
256 atoms at 1000 K, translation trials, 1 thread), and against one energy + force evaluation of the model alone
(an MD step). Also the exact engine with a model computed in Python (ASE's EMT through the bridge), where fix gcmc
cannot run at all.

Each engine runs twice through `mdrive gcmc`, with 1 and with 41 translations per invocation (every 10 steps):
(wall(41) - wall(1)) / (40 · invocations) is the cost of a trial, the MD and start-up cancelling out; the MD step
is what is left of wall(1). Wall times are the runs' own (metrics.json), medians of `repeats` in ABBA order."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"
HERE = Path(__file__).parent
STEPS, EVERY = 400, 10
ROUTES = {"eam fix gcmc": ("eam:Cu_u3.eam", "fix"), "eam exact": ("eam:Cu_u3.eam", "exact"),
          "emt exact (bridge)": ("ase:ase.calculators.emt:EMT", "exact")}


def wall(folder: Path, src: Path, spec: str, engine: str, moves: int) -> float:
    out = folder / f"{engine}-{spec.split(':')[0]}-{moves}"
    subprocess.run([sys.executable, "-m", "mdrive", "gcmc", str(src), "--potential", spec, "--species", "Cu",
                    "--engine", engine, "--temperature", "1000", "--mu", "-4.0", "--steps", str(STEPS),
                    "--every", str(EVERY), "--exchanges", "0", "--moves", str(moves), "--out", str(out), "--overwrite"],
                   check=True, capture_output=True, cwd=HERE.parent)
    metrics = next((out / "runs").glob("*/metrics.json"))
    return json.loads(metrics.read_text())["wall_s"]


def main(repeats: int = 3) -> dict:
    from ase.build import bulk
    from ase.io import write

    folder = Path(tempfile.mkdtemp(prefix="mdrive-bench-mc-"))
    src = folder / "cu256.extxyz"
    write(src, bulk("Cu", "fcc", a=3.615, cubic=True).repeat(4))
    invocations = STEPS // EVERY
    result = {"atoms": 256, "steps": STEPS, "every": EVERY, "routes": {}}
    for name, (spec, engine) in ROUTES.items():
        runs = {1: [], 41: []}
        for k in range(repeats):
            for moves in ((1, 41) if k % 2 == 0 else (41, 1)):
                runs[moves].append(wall(folder, src, spec, engine, moves))
        one, many = statistics.median(runs[1]), statistics.median(runs[41])
        trial = (many - one) / (40 * invocations)
        step = (one - trial * invocations) / STEPS
        result["routes"][name] = {"wall_1": runs[1], "wall_41": runs[41], "trial_ms": round(1e3 * trial, 3),
                                  "md_step_ms": round(1e3 * step, 3), "trial_per_step": round(trial / step, 2)}
    fix, exact = result["routes"]["eam fix gcmc"], result["routes"]["eam exact"]
    result["exact_over_fix"] = round(exact["trial_ms"] / fix["trial_ms"], 2)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
