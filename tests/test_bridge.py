"""The ASE-calculator bridge (fix external) with a tiny random MACE model: LAMMPS sees exactly the
calculator's energy, forces and virial, through atom sorting and under NPT."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mace", reason="needs the mace extra (pip install .[mace]); make test installs it")

import mace  # noqa: E402,F401  (before e3nn: mace sets the torch.load flag e3nn's constants need)
from ase.build import bulk  # noqa: E402
from helpers import mace_spec, mdrive, tiny_mace, write_structures  # noqa: E402
from mpi4py import MPI  # noqa: E402

from mdrive import decks, potentials  # noqa: E402
from mdrive.logs import read_log  # noqa: E402
from mdrive.run import StopControl  # noqa: E402
from mdrive.run import run_deck as run_in_lammps  # noqa: E402
from mdrive.structures import Structure  # noqa: E402

EV_PER_A3_TO_BAR = 1.602176634e6


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_mace(tmp_path_factory.mktemp("mace") / "tiny.model")


def alloy(repeat=2, rattle=0.05):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(repeat)
    atoms.symbols[::3] = "Ni"
    atoms.rattle(rattle, seed=3)
    return atoms


def run_deck(template, variables, spec, atoms):
    potential = potentials.load(spec)
    structure = Structure("x", atoms, "test")
    tmp = Path(tempfile.mkdtemp())
    decks.compose(tmp, template, variables, potential, structure)
    error = run_in_lammps(tmp, MPI.COMM_SELF, StopControl(), callbacks=potential.callbacks(structure.elements))
    assert error is None, error
    return read_log(tmp / "log.lammps")


def test_single_point_equals_the_calculator(model):
    from mace.calculators import MACECalculator

    atoms = alloy()
    atoms.set_cell(atoms.cell * [1.0, 1.02, 0.97], scale_atoms=True)  # anisotropic: a real stress
    row = run_deck("single.in", {}, mace_spec(model), atoms).runs[0].thermo.iloc[0]
    ref = atoms.copy()
    ref.calc = MACECalculator(model_paths=str(model), default_dtype="float64", device="cpu")
    assert row["PotEng"] == pytest.approx(ref.get_potential_energy(), abs=1e-8 * len(atoms))
    stress = ref.get_stress(voigt=True) * EV_PER_A3_TO_BAR  # xx yy zz yz xz xy
    # LAMMPS pressure = -stress (the kinetic part is zero: no velocities)
    assert row["Pxx"] == pytest.approx(-stress[0], rel=1e-6)
    assert row["Pyy"] == pytest.approx(-stress[1], rel=1e-6)
    assert row["Pzz"] == pytest.approx(-stress[2], rel=1e-6)
    assert row["Pxy"] == pytest.approx(-stress[5], rel=1e-6, abs=1e-3)
    assert row["Press"] == pytest.approx(-stress[:3].mean(), rel=1e-6)


def test_energy_conserved_while_lammps_resorts_atoms(model, tmp_path):
    # NVE with atoms re-sorted every 5 steps: a stale type map or stale forces would break conservation
    deck = tmp_path / "nve.in"
    deck.write_text((decks.templates_dir() / "single.in").read_text().replace(
        "run             0",
        "atom_modify sort 5 1.0\nvelocity all create 600 7 mom yes rot yes\nfix 1 all nve\ntimestep 0.001\n"
        "thermo_style custom step pe ke etotal press\nthermo 10\nrun 200"))
    (decks.templates_dir() / "_nve_test.in").write_text(deck.read_text())
    try:
        log = run_deck("_nve_test.in", {}, mace_spec(model), alloy(rattle=0.0))
    finally:
        (decks.templates_dir() / "_nve_test.in").unlink()
    thermo = log.runs[-1].thermo
    assert len(thermo) == 21 and thermo["KinEng"].iloc[-1] > 0.5
    drift = np.ptp(thermo["TotEng"])
    assert drift < 2e-3, thermo[["Step", "PotEng", "TotEng"]]


def test_ramp_runs_through_the_bridge(model, tmp_path):
    src = write_structures(tmp_path / "alloy.extxyz", [alloy()])
    out = tmp_path / "out"
    r = mdrive("ramp", src, "--potential", mace_spec(model), "--duration", "0.1", "--t-stop", "300",
               "--p-stop", "0", "--out", out)
    assert r.returncode == 0, r.stderr
    import pandas as pd

    table = pd.read_csv(out / "summary.csv").set_index("ensemble")
    assert table.loc["nvt", "status"] == "valid" and table.loc["nvt", "steps_valid"] == 50
    # the barostat moves the cell the way the bridge's virial pushes it (pressure > 0: expand)
    npt = read_log(out / "runs" / "alloy-npt" / "log.lammps").runs[-1].thermo
    p0, v0, v1 = npt["Press"].iloc[0], npt["Volume"].iloc[0], npt["Volume"].iloc[1]
    assert abs(p0) > 1000 and np.sign(v1 - v0) == np.sign(p0)


@pytest.mark.mpi
def test_bridge_refuses_several_ranks_per_run(model, tmp_path):
    src = write_structures(tmp_path / "alloy.extxyz", [alloy()])
    r = mdrive("ramp", src, "--potential", mace_spec(model), "--ranks-per-run", "2", "--out", tmp_path / "o", np=2)
    assert r.returncode == 2 and "runs on one MPI rank only" in r.stderr


def test_mace_spec_chooses_its_backend(model, tmp_path, monkeypatch):
    from mdrive import plugins

    # a trained model runs through the bridge on a build without pair_style mace
    pot = potentials.load(f"mace:{model}")
    assert pot.family == "ase" and pot.elements == ("Ni", "Cu")
    # an export with its trained model beside it: auto takes the plugin when built, else the bridge
    export = model.with_name(model.name + "-lammps.pt")
    export.write_bytes(b"torchscript export stands here")
    monkeypatch.setattr(plugins, "library", lambda: None)
    assert potentials.load(f"mace:{export}").family == "ase"
    with pytest.raises(Exception, match="plugin is not built"):
        potentials.load(f"mace:{export}", "plugin")
    monkeypatch.setattr(plugins, "library", lambda: tmp_path / "macepair_plugin.so")
    chosen = potentials.load(f"mace:{export}")
    assert chosen.family == "mace" and chosen.plugin == tmp_path / "macepair_plugin.so"
    assert f"plugin load {tmp_path / 'macepair_plugin.so'}" in chosen.lines(["Ni", "Cu"])
    monkeypatch.undo()
    native = potentials.load(f"mace:{export}", "native")
    assert native.family == "mace" and native.styles == ("mace",)
    from mdrive.errors import InputError
    from mdrive.runtime import build

    with pytest.raises(InputError, match="pair style 'mace'"):
        native.check_build(build())
    lonely = tmp_path / "other.model-lammps.pt"
    lonely.write_bytes(b"x")
    with pytest.raises(InputError, match="needs the trained MACE model"):
        potentials.load(f"mace:{lonely}", "ase")


def test_elements_outside_the_model_refused(model, tmp_path):
    atoms = bulk("Fe", "bcc", a=2.86, cubic=True).repeat(2)
    src = write_structures(tmp_path / "fe.extxyz", [atoms])
    r = mdrive("ramp", src, "--potential", f"mace:{model}", "--out", tmp_path / "o")
    assert r.returncode == 2 and "covers Ni Cu but the structure has Fe" in r.stderr

