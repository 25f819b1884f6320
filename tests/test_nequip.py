"""`nequip:` and `allegro:` on the PyPI wheel: models trained and compiled here with nequip's own tools
(tests/nequip_models.py) run in mdrive's plugin of `pair_style nequip` / `pair_style allegro` and, from their
checkpoints, through the ASE bridge; both are checked against nequip's NequIPCalculator alone, Allegro on one
and two ranks, in NVE, and in a ramp."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

if importlib.util.find_spec("allegro") is None:  # not imported here: see nequip_models.REFERENCE
    pytest.skip("needs nequip and nequip-allegro (pip install .[nequip]); make test installs them",
                allow_module_level=True)

import nequip_models  # noqa: E402
from ase.build import bulk  # noqa: E402
from helpers import MPIRUN, mdrive, single_point, single_point_process, write_structures  # noqa: E402

EV_PER_A3_IN_BAR = 1.602176634e6
STYLES = ("nequip", "allegro")


@pytest.fixture(scope="session")
def models(nequip_plugin):
    import os
    from pathlib import Path

    return nequip_models.models(Path(os.environ["MDRIVE_CACHE"]))  # the session's own cache (conftest)


@pytest.fixture(scope="module")
def triclinic(tmp_path_factory):
    """32 Cu atoms, rattled, in a strained and sheared (triclinic) cell: forces, an anisotropic stress and
    ghost atoms folded through tilted faces."""
    atoms = bulk("Cu", "fcc", 3.61, cubic=True).repeat(2)
    cell = np.array(atoms.cell) @ np.array([[1.02, 0.0, 0.0], [0.25, 0.98, 0.0], [-0.18, 0.31, 1.01]])
    atoms.set_cell(cell, scale_atoms=True)  # lower triangular: LAMMPS takes it as it is, no rotation
    atoms.rattle(0.05, seed=3)
    return write_structures(tmp_path_factory.mktemp("nequip") / "cu32-tri.extxyz", [atoms])


@pytest.fixture(scope="module")
def cu108(tmp_path_factory):
    atoms = bulk("Cu", "fcc", 3.61, cubic=True).repeat(3)
    atoms.rattle(0.05, seed=4)
    return write_structures(tmp_path_factory.mktemp("nequip") / "cu108.extxyz", [atoms])


def assert_equal_to_calculator(got, checkpoint, structure):
    ref = nequip_models.calculator_values(checkpoint, structure)
    n, energy, forces, stress = ref["n"], ref["energy"], np.asarray(ref["forces"]), np.asarray(ref["stress"])
    de, df = abs(got["energy"] - energy) / n, np.abs(np.asarray(got["forces"]) - forces).max()
    print(f"{got['family']}: |dE| {de:.1e} eV/atom, |dF| {df:.1e} eV/A")
    assert de < 1e-8 and df < 1e-6
    assert np.abs(forces).max() > 0.1  # the rattle gives forces worth comparing
    # LAMMPS's pressure tensor (no velocities) is minus the stress: xx yy zz xy xz yz against ASE's xx yy zz yz xz xy
    expected = -stress[[0, 1, 2, 5, 4, 3]] * EV_PER_A3_IN_BAR
    np.testing.assert_allclose(got["pressure"], expected, rtol=1e-6, atol=1e-2)
    assert np.abs(expected[3:]).max() > 100  # the sheared cell has shear stress worth comparing (bar)


@pytest.mark.parametrize("style", STYLES)
def test_plugin_equals_nequip_calculator(style, models, triclinic):
    model = models[style]
    got = single_point(f"{style}:{model.compiled}", triclinic)
    assert got["family"] == style  # the wheel has no pair_style nequip/allegro: auto took mdrive's plugin
    assert_equal_to_calculator(got, model.checkpoint, triclinic)


@pytest.mark.parametrize("style", STYLES)
def test_bridge_from_the_checkpoint_equals_nequip_calculator(style, models, triclinic):
    model = models[style]
    got = single_point(f"{style}:{model.checkpoint}", triclinic)
    assert got["family"] == f"{style}-ase"  # a checkpoint runs through the bridge
    assert_equal_to_calculator(got, model.checkpoint, triclinic)


def test_allegro_on_two_ranks_equals_one(models, cu108):
    spec = f"allegro:{models['allegro'].compiled}"
    one = single_point(spec, cu108)
    run = single_point_process(spec, cu108, prefix=(str(MPIRUN), "-np", "2"))
    assert run.returncode == 0, run.stderr[-3000:]
    two = json.loads(next(ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")).removeprefix("RESULT "))
    assert abs(one["energy"] - two["energy"]) / 108 < 1e-10
    assert np.abs(np.asarray(one["forces"]) - np.asarray(two["forces"])).max() < 1e-10
    np.testing.assert_allclose(two["pressure"], one["pressure"], rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("style", STYLES)
def test_plugin_conserves_energy_in_nve(style, models, triclinic):
    got = single_point(f"{style}:{models[style].compiled}", triclinic, run=1000)  # 1 ps of 1 fs steps from 600 K
    rows = np.asarray(got["thermo"])
    slope = np.polyfit(rows[:, 0] * 0.001, rows[:, 3] / 32, 1)[0]
    spread = np.ptp(rows[:, 3]) / 32
    print(f"{style} NVE, 32 Cu, 1000 x 1 fs: drift {slope:.2e} eV/atom/ps, total-energy spread {spread:.2e} eV/atom")
    assert rows[:, 2].max() > 0.5  # it moves: kinetic energy in eV for 32 atoms near 600 K
    assert abs(slope) < 1e-4 and spread < 1e-3


@pytest.mark.parametrize("style,ranks", [("nequip", 1), ("allegro", 2)])
def test_a_ramp_runs_with_each(style, ranks, models, tmp_path):
    atoms = bulk("Cu", "fcc", 3.61, cubic=True).repeat(2)
    atoms.rattle(0.02, seed=1)
    src = write_structures(tmp_path / "cu32.extxyz", [atoms])
    r = mdrive("ramp", src, "--potential", f"{style}:{models[style].compiled}", "--duration", "0.1",
               "--t-stop", "1200", "--p-stop", "5", "--ranks-per-run", ranks, "--out", tmp_path / "ramp", np=2)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "ramp" / "summary.csv").set_index("ensemble")
    assert list(table["status"]) == ["valid", "valid"] and (table["steps_valid"] == 50).all()
    assert (table["temp_at_end"] > 300).all()  # it heated: the plugin's forces drive real dynamics
    for run in table["run"]:
        assert json.loads((tmp_path / "ramp" / "runs" / run / "outcome.json").read_text())["ranks"] == ranks


@pytest.mark.parametrize("spec,backend,needle", [
    ("nequip:{allegro}", "auto", "was compiled with --target pair_allegro; nequip: needs --target pair_nequip"),
    ("allegro:{nequip}", "auto", "was compiled with --target pair_nequip; allegro: needs --target pair_allegro"),
    ("allegro:{allegro}", "ase", "the ASE bridge runs nequip's NequIPCalculator, which reads the checkpoint"),
    ("nequip:{allegro_ckpt}", "plugin", "pair_style nequip reads a model compiled for it: nequip-compile"),
    ("nequip:{bogus}", "auto", "is not a model compiled by nequip-compile --mode aotinductor"),
])
def test_wrong_model_files_are_refused_in_one_line(spec, backend, needle, models, cu108, tmp_path):
    bogus = tmp_path / "bogus.nequip.pt2"
    bogus.write_bytes(b"PK\x03\x04 not a zip")
    spec = spec.format(allegro=models["allegro"].compiled, nequip=models["nequip"].compiled,
                       allegro_ckpt=models["allegro"].checkpoint, bogus=bogus)
    r = mdrive("ramp", cu108, "--potential", spec, "--backend", backend, "--out", tmp_path / "out")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_nequip_on_two_ranks_is_refused(models, cu108, tmp_path):
    r = mdrive("ramp", cu108, "--potential", f"nequip:{models['nequip'].compiled}", "--ranks-per-run", "2",
               "--out", tmp_path / "out", np=2)
    assert r.returncode == 2 and "runs on one MPI rank only" in r.stderr, r.stderr
