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
    (["--potential", "pace:Cu-PBE-core-rep.ace,Cu-PBE-core-rep.ace"], "an active set (.asi) goes with the B-basis"),
    (["--potential", SPEC, "--backend", "plugin"], "pace runs natively (pair_style pace) or through the ASE bridge"),
    (["--potential", SPEC, "--backend", "native"], "pair style 'pace'"),
    (["--potential", SPEC + "?recursive"], "drop ?recursive"),
    (["--potential", "pace:a.yaml,b.asi,c.asi"], "at most an active set"),
])
def test_pace_routes_this_build_cannot_take_are_refused(tmp_path, argv, needle):
    src = write_structures(tmp_path / "cu.extxyz", [bulk("Cu", "fcc", 3.61, cubic=True)])
    r = mdrive("ramp", src, *argv, "--out", tmp_path / "o")
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o").exists()


# --- the extrapolation grade: a B-basis ACE and its active set, both made here with python-ace's own tools --------


@pytest.fixture(scope="module")
def active_set(tmp_path_factory):
    """A small linear B-basis ACE for Cu fitted (python-ace's LinearACEFit) to 40 frames of 500 K Langevin MD with
    the shipped potential, and the active set of those frames (compute_active_set): (potential.yaml, active.asi)."""
    from ase import units
    from ase.md.langevin import Langevin
    from pyace import PyACECalculator, create_multispecies_basis_config
    from pyace.activelearning import (
        compute_A_active_inverse,
        compute_active_set,
        compute_B_projections,
        save_active_inverse_set,
    )
    from pyace.linearacefit import LinearACEDataset, LinearACEFit

    from mdrive.runtime import potentials_dir

    folder = tmp_path_factory.mktemp("ace-active-set")
    atoms = bulk("Cu", "fcc", 3.61, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=1)
    atoms.calc = PyACECalculator(str(potentials_dir() / "Cu-PBE-core-rep.ace"))
    dyn = Langevin(atoms, 2 * units.fs, temperature_K=500, friction=0.02, rng=np.random.default_rng(1), fixcm=False)
    frames = []
    for _ in range(40):
        dyn.run(5)
        frame = atoms.copy()
        frames.append((frame, atoms.get_potential_energy(), atoms.get_forces().copy()))
    config = {"deltaSplineBins": 0.001, "elements": ["Cu"],
              "embeddings": {"ALL": {"npot": "FinnisSinclairShiftedScaled", "fs_parameters": [1, 1], "ndensity": 1}},
              "bonds": {"ALL": {"radbase": "ChebExpCos", "radparameters": [5.25], "rcut": 5.0, "dcut": 0.01,
                                "NameOfCutoffFunction": "cos"}},
              "functions": {"ALL": {"nradmax_by_orders": [6, 3, 2], "lmax_by_orders": [0, 2, 1]}}}
    data = pd.DataFrame({"ase_atoms": [f[0] for f in frames], "energy": [f[1] for f in frames],
                         "forces": [f[2] for f in frames]})
    data["energy_corrected"] = data["energy"]
    fit = LinearACEFit(train_dataset=LinearACEDataset(create_multispecies_basis_config(config), data))
    fit.fit()
    assert fit.compute_errors()["f_comp_rmse"] < 0.02  # eV/Å: the fit follows the shipped potential
    potential, asi = folder / "cu-linear.yaml", folder / "cu-linear.asi"
    fit.get_bbasis().save(str(potential))
    from pyace import ACEBBasisSet

    projections = compute_B_projections(ACEBBasisSet(str(potential)), [f[0] for f in frames])
    save_active_inverse_set(str(asi), compute_A_active_inverse(compute_active_set(projections, tol=1.001)),
                            elements_name=["Cu"])
    return potential, asi


def test_every_thermo_row_carries_the_grade_python_ace_computes(active_set, tmp_path):
    """A 300 K ramp stays where the potential was fitted (γ near 1); the grade in the log is python-ace's own."""
    import json

    import ase.io
    from pyace import PyACECalculator

    from mdrive.logs import read_log

    potential, asi = active_set
    atoms = bulk("Cu", "fcc", 3.61, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=2)
    src = write_structures(tmp_path / "cu32.extxyz", [atoms])
    r = mdrive("ramp", src, "--potential", f"pace:{potential},{asi}", "--ensemble", "nvt", "--t-stop", "300",
               "--duration", "0.1", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    log = read_log(tmp_path / "o" / "runs" / "cu32-nvt" / "log.lammps")
    first = log.runs[0].thermo  # validity.in's run 0: the structure as read
    assert "v_mdrive_gamma" in log.runs[-1].thermo and log.runs[-1].thermo["v_mdrive_gamma"].notna().all()
    calc = PyACECalculator(str(potential))
    calc.set_active_set(str(asi))
    start = ase.io.read(src)
    start.calc = calc
    start.get_potential_energy()
    assert first["v_mdrive_gamma"].iloc[0] == pytest.approx(calc.results["gamma"].max(), rel=1e-6)
    found = json.loads((tmp_path / "o" / "runs" / "cu32-nvt" / "metrics.json").read_text())
    assert found["status"] == "valid" and found["gamma_exceeded_step"] is None and 0.5 < found["gamma_max"] < 5


def test_the_ramp_records_the_step_the_grade_first_passes_its_limit(active_set, tmp_path):
    """Heated to 3000 K the 300 K-fitted potential leaves its training domain: the ramp records the first step
    with γ above --gamma-limit, as the log has it, whatever the validity verdict."""
    import json

    from mdrive.logs import read_log

    potential, asi = active_set
    atoms = bulk("Cu", "fcc", 3.61, cubic=True).repeat(2)
    src = write_structures(tmp_path / "cu32.extxyz", [atoms])
    r = mdrive("ramp", src, "--potential", f"pace:{potential},{asi}", "--ensemble", "nvt", "--t-start", "300",
               "--t-stop", "3000", "--duration", "0.4", "--gamma-limit", "3", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    found = json.loads((tmp_path / "o" / "runs" / "cu32-nvt" / "metrics.json").read_text())
    thermo = read_log(tmp_path / "o" / "runs" / "cu32-nvt" / "log.lammps").runs[-1].thermo
    over = thermo[thermo["v_mdrive_gamma"] > 3]
    assert len(over) and found["gamma_exceeded_step"] == int(over["Step"].iloc[0]) > 0
    assert found["gamma_max"] == pytest.approx(thermo["v_mdrive_gamma"].max())
    if found["status"] == "valid":
        assert "extrapolation grade" in found["flag"]
    assert "left the potential's training domain" in r.stdout


def test_native_pace_extrapolation_lines_put_the_grade_in_the_same_thermo_column(active_set):
    """With ML-PACE (a source build; not this wheel) `--backend native` writes pair_style pace/extrapolation and
    LAMMPS's own recipe for the largest per-atom γ (fix pair + compute reduce), as the same v_mdrive_gamma column
    the bridge fills; validity.in's thermo_style takes it from mdrive_thermo_extra."""
    from mdrive import potentials
    from mdrive.decks import template_path

    potential, asi = active_set
    lines = potentials.load(f"pace:{potential},{asi}", "native").lines(["Cu"])
    assert f"pair_coeff * * {potential} {asi} Cu" in lines and "pair_style pace/extrapolation" in lines
    fix = next(ln for ln in lines if ln.startswith("fix"))
    assert fix.split()[1:] == ["mdrive_gamma", "all", "pair", "1", "pace/extrapolation", "gamma", "1"]
    assert "variable        mdrive_gamma equal c_mdrive_gamma_max" in lines
    assert "variable        mdrive_thermo_extra index v_mdrive_gamma" in lines
    assert "${mdrive_thermo_extra}" in template_path("validity.in").read_text()
