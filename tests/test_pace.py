"""`pace:` on the PyPI wheel, which has no ML-PACE: the ACE potential the wheel ships (Cu-PBE-core-rep.ace,
Lysogorskiy et al. 2021) through python-ace's calculator and mdrive's ASE bridge, checked against the calculator
alone, for energy conservation, and in a ramp and an EV scan."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyace", reason="needs python-ace (pip install .[ace]); make test installs it")

from ase.build import bulk  # noqa: E402
from helpers import mdrive, single_point, write_structures  # noqa: E402

SPEC = "pace:Cu-PBE-core-rep.ace"
EV_PER_A3_IN_BAR = 1.602176634e6


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """32 Cu atoms, rattled, in a strained cell: forces and an anisotropic stress to compare."""
    atoms = bulk("Cu", "fcc", 3.61, cubic=True).repeat(2)
    atoms.set_cell(atoms.cell * [1.0, 1.03, 0.98], scale_atoms=True)
    atoms.rattle(0.05, seed=3)
    return write_structures(tmp_path_factory.mktemp("pace") / "cu32.extxyz", [atoms])


def reference(structure):
    import ase.io
    from pyace import PyACECalculator

    from mdrive.runtime import potentials_dir

    atoms = ase.io.read(structure)
    atoms.calc = PyACECalculator(str(potentials_dir() / "Cu-PBE-core-rep.ace"))
    return atoms, atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress(voigt=True)


def test_pace_in_lammps_equals_python_ace(cell):
    got = single_point(SPEC, cell)
    atoms, energy, forces, stress = reference(cell)
    assert got["family"] == "pace-ase"  # the wheel has no pair_style pace: auto took the bridge
    assert abs(got["energy"] - energy) / len(atoms) < 1e-8
    assert np.abs(np.asarray(got["forces"]) - forces).max() < 1e-6
    assert np.abs(forces).max() > 0.1  # the rattle gives forces worth comparing
    # LAMMPS's pressure tensor (no velocities) is minus the stress: xx yy zz xy xz yz against ASE's xx yy zz yz xz xy
    expected = -stress[[0, 1, 2, 5, 4, 3]] * EV_PER_A3_IN_BAR
    np.testing.assert_allclose(got["pressure"], expected, rtol=1e-6, atol=1e-3)
    assert np.ptp(expected[:3]) > 1000  # the strained cell's stress is anisotropic (bar)


def test_pace_conserves_energy_in_nve(cell):
    got = single_point(SPEC, cell, run=500)  # 0.5 ps of 1 fs steps from 600 K
    rows = np.asarray(got["thermo"])
    n = 32
    time_ps = rows[:, 0] * 0.001
    slope = np.polyfit(time_ps, rows[:, 3] / n, 1)[0]
    spread = np.ptp(rows[:, 3]) / n
    print(f"pace NVE, 32 Cu, 500 x 1 fs: drift {slope:.2e} eV/atom/ps, total-energy spread {spread:.2e} eV/atom")
    assert rows[:, 2].max() > 0.5  # it moves: kinetic energy in eV for 32 atoms near 600 K
    assert abs(slope) < 1e-4 and spread < 1e-4


def test_a_ramp_and_an_ev_scan_run_with_pace(tmp_path):
    atoms = bulk("Cu", "fcc", 3.61, cubic=True).repeat(2)
    atoms.rattle(0.02, seed=1)
    src = write_structures(tmp_path / "cu32.extxyz", [atoms])
    r = mdrive("ramp", src, "--potential", SPEC, "--duration", "0.1", "--t-stop", "1200", "--p-stop", "5",
               "--out", tmp_path / "ramp")
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "ramp" / "summary.csv").set_index("ensemble")
    assert list(table["status"]) == ["valid", "valid"] and (table["steps_valid"] == 50).all()
    r = mdrive("evscan", src, "--potential", SPEC, "--points", "9", "--out", tmp_path / "ev")
    assert r.returncode == 0, r.stderr
    row = pd.read_csv(tmp_path / "ev" / "evscan.csv").iloc[0]
    assert row["status"] == "valid" and row["spearman_E_compression"] == pytest.approx(-1.0)


@pytest.mark.parametrize("argv,needle", [
    (["--potential", "pace:Cu-PBE-core-rep.ace,Cu-PBE-core-rep.ace"], "the extrapolation grade"),
    (["--potential", SPEC, "--backend", "plugin"], "pace runs natively (pair_style pace) or through the ASE bridge"),
    (["--potential", SPEC, "--backend", "native"], "pair style 'pace'"),
])
def test_pace_routes_this_build_cannot_take_are_refused(tmp_path, argv, needle):
    src = write_structures(tmp_path / "cu.extxyz", [bulk("Cu", "fcc", 3.61, cubic=True)])
    r = mdrive("ramp", src, *argv, "--out", tmp_path / "o")
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o").exists()
