"""Seed 001's Li-in-graphite study on two cores (`mdrive gcmc --preset li-graphite`): CHGNet 0.3.0 (the bridge) and
SevenNet-0 (mdrive's e3gnn plugin), one chain per voltage, two chains at once (mpirun -np 2, a group of one rank
each). 36 C atoms (3×3 in plane, 2 layers: x in LixC6 moves in steps of 1/6), 300 K, NPT between invocations,
Voronoi-void candidates. x(V) with bootstrap errors against the measured staging plateaus.
Usage: python bench/li_graphite.py
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from arena_md import ENV  # noqa: E402

MODELS = {"chgnet": ["--potential", "chgnet:0.3.0"],
          "7net-0": ["--potential", "sevennet:7net-0", "--backend", "plugin"]}
VOLTAGES = "0.4,0.25,0.15,0.1,0.05,0.0"
CHAIN = ["--cells", "3", "--layers", "2", "--steps", "400", "--equilibrate", "200", "--every", "10",
         "--exchanges", "8", "--moves", "4", "--overlap", "1.2", "--seed", "7"]


def main() -> dict:
    folder = Path(tempfile.mkdtemp(prefix="mdrive-bench-li-"))
    mpirun = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or "mpirun"
    result = {"voltages": VOLTAGES, "chain": " ".join(CHAIN), "models": {}}
    for name, spec in MODELS.items():
        out = folder / name
        t = time.perf_counter()
        p = subprocess.run([mpirun, "-np", "2", sys.executable, "-m", "mdrive", "gcmc", "--preset", "li-graphite",
                            *spec, "--voltage", VOLTAGES, *CHAIN, "--out", str(out)], capture_output=True, text=True,
                           env={**ENV, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
        entry = {"returncode": p.returncode, "wall_s": round(time.perf_counter() - t, 1)}
        if p.returncode == 0:
            manifest = json.loads((out / "manifest.json").read_text())
            curve = pd.read_csv(out / "voltage.csv")
            entry.update(reference=manifest["li_reference"], engine=manifest["mc_engine"],
                         curve=curve.to_dict("records"))
        else:
            entry["said"] = p.stderr.strip().splitlines()[-3:]
        result["models"][name] = entry
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
