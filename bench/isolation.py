"""What isolating every run costs: the built-in ramp demo (16 runs, `mpirun -np 2`, --ranks-per-run 1) with
each run in a process of its own (this tree) against the same demo with runs in the ensemble's own processes
(the last commit before isolation, checked out beside), in ABBA order, median of `repeats`; and one run
process's own cost: start-up to exit on an empty deck (ms) and its resident memory (MB)."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import abba

ROOT = abba.ROOT
BEFORE = "cab3bd8"  # main before isolation: LAMMPS ran inside the ensemble's ranks


def worker_cost(tmp: Path, repeats: int = 5) -> tuple[float, float]:
    """Median ms from start to exit of `python -m mdrive.worker` on a one-line deck, and its peak RSS in MB."""
    sys.path.insert(0, str(ROOT))
    from mdrive.isolation import worker_env
    from mdrive.launch import command
    from mdrive.manifest import write_json

    run_dir = tmp / "empty"
    run_dir.mkdir()
    (run_dir / "in.lammps").write_text("units metal\n")
    write_json(run_dir / "worker.json", {"stop_file": ".stop"})
    times, rss = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        child = subprocess.Popen(command([sys.executable, "-m", "mdrive.worker", str(run_dir)], ["here"]),
                                 env=worker_env())
        _, status, usage = os.wait4(child.pid, 0)
        times.append((time.perf_counter() - t) * 1e3)
        rss.append(usage.ru_maxrss / 1024)
        assert status == 0
    return round(statistics.median(times), 1), round(statistics.median(rss), 1)


def main(repeats: int = 4) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        measured, _ = abba.walls(BEFORE, tmp, repeats)
        walls = {"isolated": measured["after"], "in_process": measured["before"]}
        ms, mb = worker_cost(tmp)
    iso, old = statistics.median(walls["isolated"]), statistics.median(walls["in_process"])
    result = {"runs": 16, "ranks": 2, "isolated_wall_s": iso, "in_process_wall_s": old,
              "ratio": round(iso / old, 3), "walls": walls, "worker_start_ms": ms, "worker_rss_mb": mb}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
