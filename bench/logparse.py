"""Log parsing speed: mdrive.logs.read_log against lammps-logfile on a ~100 MB multi-run log.

The log is real LAMMPS output (an LJ melt, thermo every step, several runs), its run blocks repeated
until the file reaches the target size, so it stays a valid multi-run log. lammps-logfile runs in its own
venv (.venv-bench: it installs a top-level `tests` package that would shadow ours); each parser is timed
in a fresh process, best of 3, and both must return the same number of rows.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import lj_melt  # noqa: E402

BENCH_VENV = ROOT / ".venv-bench"
TARGET_MB = 100


def make_log(path: Path) -> None:
    from mdrive.runtime import new_lammps

    seed = path.with_suffix(".seed.log")
    lmp = new_lammps(log=seed)
    lmp.commands_string(lj_melt(6) + "thermo_style custom step temp pe ke etotal press vol density atoms cpu\nthermo 1\n")
    for _ in range(4):
        lmp.command("run 5000")
    lmp.close()
    text = seed.read_bytes()
    head, _, rest = text.partition(b"run 5000\n")
    body, _, tail = rest.rpartition(b"Total wall time")
    block = b"run 5000\n" + body
    copies = max(1, int(TARGET_MB * 1e6 / len(block)))
    path.write_bytes(head + block * copies + b"Total wall time" + tail)
    seed.unlink()


MDRIVE = """
import sys, time
from mdrive.logs import read_log
t = time.perf_counter(); log = read_log(sys.argv[1]); t = time.perf_counter() - t
print(t, sum(len(r.thermo) for r in log.runs), len(log.runs))
"""
LOGFILE = """
import sys, time
import lammps_logfile
t = time.perf_counter(); log = lammps_logfile.File(sys.argv[1])
rows = sum(len(log.get("Step", run_num=k)) for k in range(log.get_num_partial_logs()))
t = time.perf_counter() - t
print(t, rows, log.get_num_partial_logs())
"""


def ensure_bench_venv() -> Path:
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "lammps-logfile==1.1.4"], check=True)
    return python


def best_of(python: str, code: str, log: Path, repeats: int = 3):
    results = []
    for _ in range(repeats):
        out = subprocess.run([python, "-c", code, str(log)], capture_output=True, text=True, check=True)
        t, rows, runs = out.stdout.split()
        results.append((float(t), int(rows), int(runs)))
    return min(results)


def main() -> dict:
    log = ROOT / "bench" / "work" / "multirun.log"
    log.parent.mkdir(exist_ok=True)
    if not log.exists():
        make_log(log)
    size_mb = log.stat().st_size / 1e6
    ours = best_of(sys.executable, MDRIVE, log)
    theirs = best_of(str(ensure_bench_venv()), LOGFILE, log)
    if ours[1] != theirs[1]:
        raise SystemExit(f"row counts differ: mdrive {ours[1]}, lammps-logfile {theirs[1]}")
    result = {"log_mb": round(size_mb, 1), "runs": ours[2], "rows": ours[1],
              "mdrive_s": round(ours[0], 3), "lammps_logfile_s": round(theirs[0], 3),
              "mdrive_mb_per_s": round(size_mb / ours[0], 1), "speedup": round(theirs[0] / ours[0], 2)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
