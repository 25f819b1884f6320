"""Batch jobs on the real Slurm clusters the tests start (tests/slurm_cluster.py: one node; two nodes in network
namespaces): the time from `--submit` to the first run starting, per path (the job's launcher; one node or
two), and what launching a 2-rank run costs inside a job (an `srun --overlap` step for hydra's proxies) against
the same run launched here under `mpirun -np 2` (hydra's fork). Each path `repeats` times, interleaved; medians.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from abba import ENV, ROOT

sys.path.insert(0, str(ROOT / "tests"))
import slurm_cluster  # noqa: E402

RUNS, PS = 4, "0.2"  # 108-atom EAM Cu cells, 100 steps each: the launch, not the run, dominates
PATHS = {"1 node, mpirun": (1, "mpirun"), "1 node, srun": (1, "srun"), "2 nodes, mpirun": (2, "mpirun")}


def structures(folder: Path) -> Path:
    from ase.build import bulk
    from ase.io import write

    src = folder / "set"
    src.mkdir()
    for k in range(RUNS):
        atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(3)
        atoms.rattle(0.02, seed=k)
        write(src / f"s{k}.extxyz", atoms)
    return src


def study(src: Path, out: Path, env: dict, extra: list[str], under: tuple = ()) -> float:
    """Run the study (2-rank runs), `under` a launcher if given; the wall time of the command."""
    cmd = [*under, sys.executable, "-m", "mdrive", "ramp", str(src), "--potential", "eam:Cu_u3.eam", "--ensemble", "nvt",
           "--duration", PS, "--ranks-per-run", "2", "--out", str(out), *extra]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(r.stderr)
    return time.perf_counter() - t


def submitted(src: Path, out: Path, env: dict, nodes: int, launcher: str) -> tuple[float, list[float]]:
    """Submit; seconds from the submitting command's start to the first run's start, and every run's wall."""
    t0 = time.time()
    study(src, out, env, ["--submit", "slurm", "--ranks", "2", "--nodes", str(nodes), "--launcher", launcher,
                          "--job-time", "3min"])
    end = time.monotonic() + 180
    while not (json.loads((out / "jobs.json").read_text())).get("state"):
        if time.monotonic() > end:
            raise SystemExit(f"the job did not finish\n{slurm_cluster.logs_on_failure(env)}")
        time.sleep(0.2)
    first = min(p.stat().st_mtime for p in out.glob("runs/*/worker.json"))  # written as each run starts
    return first - t0, walls(out)


def walls(out: Path) -> list[float]:
    return [json.loads(p.read_text())["wall_s"] for p in sorted(out.glob("runs/*/outcome.json"))]


def main(repeats: int = 3) -> dict:
    if slurm_cluster.missing(2):
        raise SystemExit(f"no Slurm here: {slurm_cluster.missing(2)}")
    result = {"runs": RUNS, "ranks_per_run": 2, "ps": float(PS), "repeats": repeats, "paths": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = structures(tmp)
        clusters = {n: {**ENV, **slurm_cluster.start(tmp / f"slurm{n}", n)} for n in (1, 2)}
        try:
            first = {name: [] for name in PATHS}
            run_walls = {name: [] for name in PATHS} | {"here, mpirun -np 2": []}
            for k in range(repeats):
                local = tmp / f"local{k}"
                study(src, local, ENV, [], under=(str(Path(sys.executable).parent / "mpirun"), "-np", "2"))
                run_walls["here, mpirun -np 2"] += walls(local)
                for name, (nodes, launcher) in PATHS.items():
                    wait, each = submitted(src, tmp / f"{name.replace(' ', '').replace(',', '-')}{k}",
                                           clusters[nodes], nodes, launcher)
                    first[name].append(round(wait, 2))
                    run_walls[name] += each
        finally:
            for n in clusters:
                slurm_cluster.stop(tmp / f"slurm{n}")
    for name in PATHS:
        result["paths"][name] = {"to_first_run_s": first[name], "median_to_first_run_s": statistics.median(first[name])}
    local = statistics.median(run_walls["here, mpirun -np 2"])
    result["run_wall_s"] = {name: round(statistics.median(w), 3) for name, w in run_walls.items()}
    result["launch_overhead_s"] = {name: round(statistics.median(run_walls[name]) - local, 3) for name in PATHS}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
