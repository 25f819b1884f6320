"""Writes the study folders test_results_contract.py rebuilds (`python tests/data/studies/make.py`): small real
studies of every protocol, their runs' logs and records kept, and the tables `report` and `compare` made from
them then, kept as the expected bytes. Run it again only on purpose (a change of a table's meaning)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from helpers import copper_set, mdrive  # noqa: E402

STUDIES = {
    "ramp-eam": ("ramp", "{set}", "--potential", "eam:Cu_u3.eam", "--duration", "0.1"),
    "ramp-alloy": ("ramp", "{set}", "--potential", "eam/alloy:CuNi.eam.alloy", "--duration", "0.1", "--p-stop", "100"),
    "evscan-eam": ("evscan", "{set}", "--potential", "eam:Cu_u3.eam", "--points", "7"),
    "evscan-alloy": ("evscan", "{set}", "--potential", "eam/alloy:CuNi.eam.alloy", "--points", "7"),
    "widom-lj": ("widom", "--lj", "--density", "0.3", "--temperature", "2.0", "--cells", "4", "--steps", "1000",
                 "--insertions", "20"),
    "gcmc-lj": ("gcmc", "--lj", "--temperature", "2.0", "--pressure", "0.1,0.05", "--cells", "3", "--density", "0.1",
                "--steps", "1000", "--exchanges", "10", "--moves", "10"),
    "meltquench-sw": ("meltquench", "--potential", "sw:Si.sw", "--element", "Si", "--atoms", "64", "--density",
                      "2.33", "--schedule", "nvt:3000K:0.2ps, npt:3000K->300K@10000K/ps, min:0GPa", "--replicas",
                      "2", "--thermo-every", "50"),
}
DROP = ("*.png", "worker.log", "worker.json", "exit.json", "data.lammps")  # report reads none of these


def main() -> None:
    work = HERE / "work"
    shutil.rmtree(work, ignore_errors=True)
    src = copper_set(work / "set", (2, 3))
    for name, args in STUDIES.items():
        out = HERE / name
        shutil.rmtree(out, ignore_errors=True)
        r = mdrive(*[a.format(set=src) for a in args], "--out", out)
        assert r.returncode == 0, r.stderr
        (out / "headline.txt").write_text(r.stdout)
        for pattern in DROP:
            for path in out.rglob(pattern):
                path.unlink()
    shutil.rmtree(work)
    r = mdrive("compare", HERE / "compare.md", *[HERE / n for n in sorted(STUDIES)], "--format", "md")
    assert r.returncode == 0, r.stderr
    print(subprocess.run(["du", "-sh", str(HERE)], capture_output=True, text=True).stdout)


if __name__ == "__main__":
    main()
