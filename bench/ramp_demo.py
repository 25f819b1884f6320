"""Throughput of the built-in ramp demo (16 runs: 8 Cu–Ni mixtures of 256 atoms x NVT/NPT, 5000 steps each)
on 1 and 2 MPI ranks (--ranks-per-run 1): wall time, aggregate MD steps per second, and the headline."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run(np_: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [str(BIN / "mpirun"), "-np", str(np_), sys.executable, "-m", "mdrive", "ramp", "--out", str(out)]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        wall = time.perf_counter() - t
        if proc.returncode:
            raise SystemExit(proc.stderr)
        head = json.loads((out / "manifest.json").read_text())["headline"]
        steps = sum(json.loads(p.read_text())["steps_valid"] for p in out.glob("runs/*/metrics.json"))
    return {"ranks": np_, "wall_s": round(wall, 1), "md_steps": steps, "steps_per_s": round(steps / wall, 1),
            "headline": head, "stdout": proc.stdout.strip()}


def main() -> dict:
    one, two = run(1), run(2)
    result = {"one_rank": one, "two_ranks": two, "speedup": round(one["wall_s"] / two["wall_s"], 2)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
