"""Foundation MLIPs with the weights their wheels ship, in one environment with MACE: SevenNet-0 natively (mdrive's
plugin of sevenn's own pair_e3gnn) and through the ASE bridge, CHGNet 0.3.0 through the bridge, and a MACE model
pickled under e3nn 0.4.4 running under the e3nn 0.6 sevenn needs. Real models, real LAMMPS, no mocks."""
from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest

pytest.importorskip("sevenn", reason="needs the foundation extra (pip install .[foundation]); make test installs it")
pytest.importorskip("chgnet", reason="needs the foundation extra (pip install .[foundation]); make test installs it")

from ase.build import bulk  # noqa: E402
from helpers import ENV, ROOT, mdrive, mdrive_at_once, single_point, single_point_process, write_structures  # noqa: E402

SEVENNET = "sevennet:7net-0"
EV_PER_A3_IN_BAR = 1.602176634e6
OLD_MACE = ROOT / "tests" / "data" / "mace-e3nn-0.4.4"


@pytest.fixture
def e3gnn(e3gnn_plugin):
    return e3gnn_plugin  # built once per session (conftest)


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """A periodic Cu-Ni-Al cell, rattled and strained (32 atoms)."""
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    atoms.symbols[::3] = "Ni"
    atoms.symbols[1::5] = "Al"
    atoms.rattle(0.05, seed=1)
    atoms.set_cell(atoms.cell * [1.0, 1.02, 0.97], scale_atoms=True)
    return write_structures(tmp_path_factory.mktemp("cell") / "cell.extxyz", [atoms])


@contextlib.contextmanager
def float32_default():
    """torch's float32 default, as the models expect (other tests in this process build float64 MACE models
    and leave that default behind)."""
    import torch

    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(default)


def reference(make_calculator, structure) -> dict:
    """The model's own ASE calculator on `structure`."""
    import ase.io

    with float32_default():
        atoms = ase.io.read(structure)
        atoms.calc = make_calculator()
        stress = atoms.get_stress(voigt=True) * EV_PER_A3_IN_BAR  # xx yy zz yz xz xy
        return {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(), "n": len(atoms),
                "pressure": -stress[[0, 1, 2, 5, 4, 3]]}


def assert_matches(got, ref, energy_tol, force_tol, pressure_rel):
    assert abs(got["energy"] - ref["energy"]) / ref["n"] <= energy_tol
    assert np.abs(np.array(got["forces"]) - ref["forces"]).max() <= force_tol
    expected = ref["pressure"]
    assert np.abs(np.array(got["pressure"]) - expected).max() <= pressure_rel * np.abs(expected).max()


@pytest.fixture(scope="module")
def sevennet_reference(cell):
    from sevenn.calculator import SevenNetCalculator

    return reference(lambda: SevenNetCalculator("7net-0", device="cpu"), cell)


def test_sevennet_plugin_equals_its_calculator(e3gnn, cell, sevennet_reference):
    got = single_point(SEVENNET, cell, "plugin")
    assert got["family"] == "sevennet"
    assert_matches(got, sevennet_reference, energy_tol=1e-5, force_tol=1e-4, pressure_rel=1e-4)


def test_plugin_and_bridge_follow_the_same_trajectory_and_nve_conserves(e3gnn, cell, sevennet_reference,
                                                                        record_property):
    native = single_point(SEVENNET, cell, "plugin", run=50)
    bridge = single_point(SEVENNET, cell, "ase", run=20)
    assert bridge["family"] == "sevennet-ase"
    assert_matches(bridge, sevennet_reference, energy_tol=1e-5, force_tol=1e-4, pressure_rel=1e-4)
    a, b = np.array(native["thermo"])[:20], np.array(bridge["thermo"])
    n = sevennet_reference["n"]
    assert np.array_equal(a[:, 0], b[:, 0])
    assert np.abs(a[:, 1] - b[:, 1]).max() / n < 1e-5  # potential energy per atom over 20 steps of 1 fs
    etot = np.array(native["thermo"])[:, 3]
    drift = float(np.abs(etot - etot[0]).max() / n)
    ke_scale = float(np.array(native["thermo"])[:, 2].mean() / n)
    record_property("nve_drift_eV_per_atom_50fs", drift)
    print(f"7net-0 NVE, 32 atoms, 50 x 1 fs from 600 K: max |E - E0| = {drift:.2e} eV/atom "
          f"(kinetic energy {ke_scale:.3f} eV/atom)")
    assert drift < 0.01 * ke_scale  # conserved to a percent of the kinetic energy it exchanges


def test_chgnet_bridge_equals_its_calculator(cell, float32_torch):
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    ref = reference(lambda: CHGNetCalculator(model=CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False),
                                             use_device="cpu"), cell)
    got = single_point("chgnet:0.3.0", cell)
    assert got["family"] == "chgnet"
    assert_matches(got, ref, energy_tol=1e-5, force_tol=1e-4, pressure_rel=1e-4)


def test_mace_pickled_under_e3nn_044_runs_unchanged(tmp_path):
    """The form MACE foundation models ship in: converted once into mdrive's cache, the original untouched."""
    model = shutil.copy(OLD_MACE / "tiny.model", tmp_path / "old.model")
    before = hashlib.sha256(Path(model).read_bytes()).hexdigest()
    ref = json.loads((OLD_MACE / "reference.json").read_text())
    from ase import Atoms

    atoms = Atoms(ref["numbers"], positions=ref["positions"], cell=ref["cell"], pbc=True)
    structure = write_structures(tmp_path / "s.extxyz", [atoms])
    env = {**ENV, "MDRIVE_CACHE": str(tmp_path / "cache")}
    got = single_point(f"mace:{model}", structure, env=env)
    assert abs(got["energy"] - ref["energy"]) / len(atoms) < 1e-7
    assert np.abs(np.array(got["forces"]) - np.array(ref["forces"])).max() < 1e-6
    assert len(list((tmp_path / "cache" / "mace-e3nn").glob("old-*.model"))) == 1
    assert hashlib.sha256(Path(model).read_bytes()).hexdigest() == before


@pytest.mark.mpi
def test_short_ramps_of_each_model_complete_with_verdicts(e3gnn, tmp_path):
    from mdrive.protocols.mixtures import generate, write

    src = tmp_path / "rm.extxyz"
    write(generate(["Cu", "Ni", "Al"], 1, 32, seed=7), src)
    # each model once (SevenNet's bridge route follows the plugin's trajectory in the test above)
    for spec, backend, family in ((SEVENNET, "plugin", "sevennet"), ("chgnet:0.3.0", "auto", "chgnet")):
        out = tmp_path / f"{family}"
        r = mdrive("ramp", src, "--potential", spec, "--backend", backend, "--duration", "0.03ps",
                   "--t-stop", "600K", "--p-stop", "1GPa", "--out", out, np=2)
        assert r.returncode == 0, r.stderr[-3000:]
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["potential"]["family"] == family
        assert manifest["potential"]["files"] or spec.startswith("chgnet")
        metrics = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*/metrics.json"))]
        assert [m["ensemble"] for m in metrics] == ["npt", "nvt"]
        for m in metrics:  # a gentle ramp: 300 -> 600 K, 0 -> 1 GPa over 15 steps
            assert m["status"] == "valid" and m["steps_valid"] == m["steps_target"] == 15, m
            assert 0 < m["temp_at_end"] < 2000


def test_evscans_of_each_model_obey_p_equals_minus_de_dv(e3gnn, cell, sevennet_reference, tmp_path):
    """EV scans (the evscan protocol's looping deck) of 7net-0 through the plugin and CHGNet through the bridge:
    along the affine scan the model's own pressure must equal -dE/dV of its energies, and the unstrained point
    must be the calculator's energy."""
    import pandas as pd

    models = {"sevennet": (SEVENNET, "plugin"), "chgnet": ("chgnet:0.3.0", "auto")}
    done = mdrive_at_once(*(["evscan", cell, "--potential", spec, "--backend", backend, "--strain", "0.04",
                             "--points", "9", "--out", tmp_path / family] for family, (spec, backend) in models.items()))
    for family, r in zip(models, done):
        assert r.returncode == 0, r.stderr[-3000:]
        curve = pd.read_parquet(tmp_path / family / "curves.parquet").sort_values("volume")
        assert len(curve) == 9 and json.loads((tmp_path / family / "manifest.json").read_text())[
            "headline"]["failure_percent"] == 0.0
        v, e, p = (curve[c].to_numpy() for c in ("volume", "energy", "pressure_gpa"))
        minus_dedv = -(e[2:] - e[:-2]) / (v[2:] - v[:-2]) * EV_PER_A3_IN_BAR / 1e4  # GPa, central differences
        assert np.abs(minus_dedv - p[1:-1]).max() < 0.02 * np.abs(p).max() + 0.2, (family, minus_dedv, p)
        if family == "sevennet":
            e0 = float(curve.loc[curve.strain.abs() < 1e-9, "energy"].iloc[0])
            assert abs(e0 - sevennet_reference["energy"]) / sevennet_reference["n"] < 1e-5


@pytest.mark.mpi
def test_more_than_one_rank_per_run_is_refused(e3gnn, cell, tmp_path):
    r = mdrive("ramp", cell, "--potential", SEVENNET, "--backend", "plugin", "--ranks-per-run", "2",
               "--out", tmp_path / "o", np=2)
    assert r.returncode == 2
    assert "runs on one MPI rank only" in r.stderr and "e3gnn" in r.stderr
    assert not (tmp_path / "o").exists()


def test_large_edge_arrays_do_not_crash_a_run(e3gnn, tmp_path):
    """pair_e3gnn keeps its edge arrays on the stack. Under a 1 MiB stack limit, 256 atoms crash it when LAMMPS
    runs in a plain process; mdrive's run process raises the limit and the same cell runs."""
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(4)
    atoms.symbols[::3] = "Ni"
    atoms.rattle(0.05, seed=1)
    src = write_structures(tmp_path / "c256.extxyz", [atoms])
    small_stack = ["prlimit", f"--stack={1 << 20}:unlimited"]
    if shutil.which("prlimit") is None:
        pytest.skip("needs util-linux's prlimit to lower the stack limit")
    plain = single_point_process(SEVENNET, src, "plugin", prefix=small_stack)
    assert plain.returncode in (-11, 139), plain.stderr[-3000:]  # SIGSEGV: the control shows the limit bites
    cmd = [*small_stack, sys.executable, "-m", "mdrive", "ramp", str(src), "--potential", SEVENNET,
           "--ensemble", "nvt", "--duration", "0.004ps", "--thermo-every", "1", "--out", str(tmp_path / "o")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path / "o" / "runs" / "c256-nvt" / "metrics.json").read_text())
    assert m["status"] == "valid" and m["steps_valid"] == 2, m


@pytest.mark.parametrize("spec,backend,said", [
    ("sevennet:7net-mf-0", "plugin", "add ?modal= one of"),
    ("sevennet:7net-0?modal=PBE", "plugin", "has one fidelity"),
    ("sevennet:7net-9", "auto", "not a SevenNet model sevenn knows"),
    ("sevennet:7net-0?fidelity=PBE", "auto", "it takes modal="),
    ("chgnet:missing.pth.tar", "auto", "missing.pth.tar"),
], ids=["mf-without-modal", "modal-on-single", "unknown-name", "unknown-option", "chgnet-missing-file"])
def test_bad_model_specs_are_one_line(cell, tmp_path, spec, backend, said):
    r = mdrive("ramp", cell, "--potential", spec, "--backend", backend, "--out", tmp_path / "o")
    assert r.returncode == 2
    assert said in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o").exists()


def test_deployed_model_runs_natively_and_is_refused_by_the_bridge(e3gnn, cell, tmp_path, sevennet_reference):
    from sevenn.scripts.deploy import deploy
    from sevenn.util import pretrained_name_to_path

    deployed = tmp_path / "7net-0-deployed.pt"  # what `sevenn get_model 7net-0` writes
    with float32_default():
        deploy(pretrained_name_to_path("7net-0"), str(deployed))
    got = single_point(f"sevennet:{deployed}", cell, "plugin")
    assert_matches(got, sevennet_reference, energy_tol=1e-5, force_tol=1e-4, pressure_rel=1e-4)
    r = mdrive("ramp", cell, "--potential", f"sevennet:{deployed}", "--backend", "ase", "--out", tmp_path / "o")
    assert r.returncode == 2 and "reads checkpoints" in r.stderr


def test_exact_mc_engine_scores_each_model_as_its_calculator_does(e3gnn, tmp_path, float32_torch):
    """Neither model can use fix gcmc: SevenNet's pair style scores fix gcmc's trial deletions (the exclusion path)
    wrong, and CHGNet runs in Python. Both run mdrive's exact engine; every accepted move's energy change (deletions,
    translations, swaps) equals the model's own ASE calculator on the configurations before and after it, to the
    float32 rounding both models compute in (a few ulps of a -130 eV total: 1 ulp is 1.5e-5 eV)."""
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator
    from sevenn.calculator import SevenNetCalculator

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    atoms.symbols[::3] = "Ni"
    del atoms[[0]]
    atoms.rattle(0.05, seed=1)
    src = write_structures(tmp_path / "cuni.extxyz", [atoms])
    gcmc = ["gcmc", src, "--species", "Cu", "--swap", "Cu:Ni", "--temperature", "1000K", "--mu", "-7.0",
            "--overlap", "1.8", "--steps", "20", "--every", "10", "--exchanges", "6", "--moves", "2", "--swaps", "2",
            "--audit", "30"]
    s, c, refused = mdrive_at_once(
        [*gcmc, "--potential", SEVENNET, "--backend", "plugin", "--out", tmp_path / "s"],
        [*gcmc, "--potential", "chgnet:0.3.0", "--out", tmp_path / "c"],
        [*gcmc, "--potential", "chgnet:0.3.0", "--engine", "fix", "--out", tmp_path / "f"])
    assert refused.returncode == 2 and "use --engine exact" in refused.stderr and not (tmp_path / "f").exists()
    calculators = {"s": SevenNetCalculator("7net-0"), "c": CHGNetCalculator(model=CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False),
                                                                            use_device="cpu")}
    for r, out, why in ((s, "s", "guard failed"), (c, "c", "ASE bridge")):
        assert r.returncode == 0, r.stderr
        manifest = json.loads((tmp_path / out / "manifest.json").read_text())
        assert manifest["mc_engine"]["engine"] == "exact" and why in manifest["mc_engine"]["why"]
        frames = ase.io.read(tmp_path / out / "runs" / "cuni-mu-7" / "mc-audit.extxyz", ":")
        moves = {f.info["move"] for f in frames}
        assert {"delete", "swap"} <= moves, moves  # deletions run away at this μ; swaps are nearly free
        errors = []
        for before, after in zip(frames[::2], frames[1::2]):
            energies = []
            for frame in (before, after):
                frame.calc = calculators[out]
                energies.append(frame.get_potential_energy())
            errors.append(abs((energies[1] - energies[0]) - (after.info["mc_energy"] - before.info["mc_energy"])))
        assert max(errors) < 4 * 1.5e-5, (out, errors)  # 4 ulps: two totals, each rounded, and their difference
