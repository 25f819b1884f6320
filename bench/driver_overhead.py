"""Driver overhead: one NVT ramp deck of 2000 W atoms (shipped SNAP), run by `python -m mdrive ramp` (LAMMPS in
the run's own process, mdrive.worker, with mdrive's per-thermo-step stop hook) and by plain `lmp -in in.lammps` in the run folder mdrive
composed. Same deck, same machine, ABBA order, median of 8 (this machine's runs spread by up to 10 %);
speed from each log's Performance line."""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from ase.build import bulk

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mdrive.logs import read_log  # noqa: E402

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
ARGS = ["--potential", "snap:W_2940_2017_2", "--ensemble", "nvt", "--duration", "0.04", "--t-stop", "1500"]


def steps_per_s(log: Path) -> float:
    return read_log(log).runs[-1].performance["timesteps/s"]


def _through_mdrive(src: Path, out: Path) -> float:
    proc = subprocess.run([sys.executable, "-m", "mdrive", "ramp", str(src), *ARGS, "--out", str(out)],
                          capture_output=True, text=True, env=ENV)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return steps_per_s(out / "runs" / "w-nvt" / "log.lammps")


def _plain_lmp(composed: Path, plain: Path) -> float:
    """Plain lmp on a copy of the run folder mdrive composed (the deck is the same in every repeat)."""
    from mdrive.runtime import potentials_dir

    shutil.copytree(composed / "runs" / "w-nvt", plain)
    subprocess.run([str(BIN / "lmp"), "-in", "in.lammps", "-log", "plain.log", "-screen", "none"], cwd=plain,
                   env={**ENV, "LAMMPS_POTENTIALS": str(potentials_dir())}, check=True)
    return steps_per_s(plain / "plain.log")


def main(repeats: int = 8) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "w.extxyz"
        bulk("W", "bcc", a=3.185, cubic=True).repeat(10).write(src)
        mdrive_rates, lmp_rates = [], []
        for k in range(repeats):  # ABBA: this machine slows under sustained load, so each route goes first as often
            for route in ("mdrive", "lmp") if k % 2 == 0 else ("lmp", "mdrive"):
                if route == "mdrive":
                    mdrive_rates.append(_through_mdrive(src, tmp / f"m{k}"))
                else:
                    lmp_rates.append(_plain_lmp(tmp / "m0", tmp / f"plain{k}"))
    m, p = statistics.median(mdrive_rates), statistics.median(lmp_rates)
    result = {"atoms": 2000, "mdrive_steps_per_s": m, "lmp_steps_per_s": p, "ratio": round(m / p, 3),
              "mdrive_all": mdrive_rates, "lmp_all": lmp_rates}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
