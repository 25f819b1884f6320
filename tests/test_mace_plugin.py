"""mdrive's pair_style mace plugin (cmake/mace_plugin) against mace-torch's ASE calculator, float64:
1 and 2 MPI ranks, both modes, one and two elements, cells smaller and larger than twice the cutoff;
and a ramp through the plugin that follows the bridge step by step."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mace", reason="needs the mace extra (pip install .[mace]); make test installs it")

from helpers import ENV, LMP, MPIRUN, ROOT, copper, mdrive, tiny_mace, write_structures  # noqa: E402

from mdrive.logs import read_log  # noqa: E402


@pytest.fixture
def plugin(mace_plugin):
    return mace_plugin  # built once per session (conftest)


def exported_model(folder, atomic_numbers):
    """A tiny trained MACE and its LAMMPS export (mace-torch's own exporter, float64)."""
    trained = tiny_mace(folder / "tiny.model", atomic_numbers=atomic_numbers)
    exporter = Path(sys.executable).parent / "mace_create_lammps_model"
    subprocess.run([str(exporter), str(trained), "--dtype", "float64"], check=True, capture_output=True, env=ENV)
    return trained, trained.with_name(trained.name + "-lammps.pt"), atomic_numbers


@pytest.fixture(scope="module", params=[(28, 29), (29,)], ids=["Ni-Cu", "Cu"])
def model(request, tmp_path_factory):
    return exported_model(tmp_path_factory.mktemp("mace"), request.param)


def check(plugin, model, mode, repeat, ranks):
    trained, export, zs = model
    elements = ",".join({28: "Ni", 29: "Cu"}[z] for z in zs)
    cmd = [sys.executable, str(ROOT / "tests" / "mace_plugin_check.py"), str(plugin), str(export), str(trained),
           mode, str(repeat), elements]
    if ranks > 1:
        cmd = [str(MPIRUN), "-np", str(ranks), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode,repeat,ranks", [
    ("", 3, 1), ("", 2, 1), ("no_domain_decomposition", 3, 1), ("no_domain_decomposition", 2, 1),
    pytest.param("", 3, 2, marks=pytest.mark.mpi), pytest.param("", 2, 2, marks=pytest.mark.mpi),
], ids=["dd-108", "dd-32-small-cell", "nodd-108", "nodd-32-small-cell", "dd-108-2ranks", "dd-32-2ranks"])
def test_equals_the_ase_calculator(plugin, model, mode, repeat, ranks):
    got = check(plugin, model, mode, repeat, ranks)
    assert got["ranks"] == ranks
    assert got["energy_per_atom"] < 1e-8 and got["force"] < 1e-8 and got["stress_rel"] < 1e-6, got


def test_ramp_through_plugin_follows_the_bridge(plugin, tmp_path):
    trained, export, zs = exported_model(tmp_path, (28, 29))
    atoms = copper(2)
    atoms.symbols[::3] = "Ni"
    src = write_structures(tmp_path / "s.extxyz", [atoms])
    logs = {}
    for backend in ("plugin", "ase"):
        out = tmp_path / backend
        # on one rank the folded mode is the efficient one: no ghost shell of 2 r_max around a small cell
        r = mdrive("ramp", src, "--potential", f"mace:{export}?no_domain_decomposition", "--backend", backend,
                   "--ensemble", "nvt",
                   "--duration", "0.2", "--out", out)
        assert r.returncode == 0, r.stderr
        logs[backend] = read_log(out / "runs" / "s-nvt" / "log.lammps").runs[-1].thermo
        deck = (out / "runs" / "s-nvt" / "potential.in").read_text()
        assert ("plugin load" in deck) == (backend == "plugin")
    plugin_run, bridge_run = logs["plugin"], logs["ase"]
    assert len(plugin_run) == len(bridge_run) == 11  # 100 steps, thermo every 10
    for column in ("PotEng", "Temp", "Press"):
        assert np.allclose(plugin_run[column], bridge_run[column], rtol=1e-6, atol=1e-6), column


def dgemm_bindings(folder: Path) -> list[str]:
    """Where the loader bound libtorch_cpu's dgemm_, from LD_DEBUG=bindings output files in `folder`."""
    return [line.split(" to ")[1] for f in folder.glob("ld.*") for line in f.read_text(errors="replace").splitlines()
            if "libtorch_cpu.so" in line.split(" to ")[0] and "`dgemm_'" in line]


def test_torch_serves_its_own_blas_on_the_auto_route(plugin, tmp_path):
    """libtorch's dgemm_ must bind to torch's MKL, not to the unoptimised BLAS the wheel's liblammps exports
    under the same name (runtime.load_torch_first), in mdrive and by hand with the environment the potential
    include names; the dynamic loader reports the binding it made."""
    trained, export, _ = exported_model(tmp_path, (28, 29))
    src = write_structures(tmp_path / "s.extxyz", [copper(2)])
    cmd = [sys.executable, "-m", "mdrive", "ramp", str(src), "--potential", f"mace:{export}?no_domain_decomposition",
           "--ensemble", "nvt", "--duration", "0.002", "--out", str(tmp_path / "out")]
    debug = {"LD_DEBUG": "bindings", "LD_DEBUG_OUTPUT": str(tmp_path / "mdrive" / "ld")}
    (tmp_path / "mdrive").mkdir()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**ENV, **debug}, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / "out" / "runs" / "s-nvt"
    include = (run / "potential.in").read_text()
    assert "plugin load" in include  # auto took the plugin
    bound = dgemm_bindings(tmp_path / "mdrive")
    assert bound and all("torch/lib/libtorch_cpu.so" in b for b in bound), bound

    hint = next(line for line in include.splitlines() if line.startswith("# by hand")).split("with: ")[1]
    by_hand = dict(word.split("=", 1) for word in hint.split())
    (tmp_path / "lmp").mkdir()
    debug["LD_DEBUG_OUTPUT"] = str(tmp_path / "lmp" / "ld")
    r = subprocess.run([str(LMP), "-in", "in.lammps", "-log", "none", "-screen", "none"], capture_output=True,
                       text=True, env={**ENV, **by_hand, **debug}, cwd=run, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    bound = dgemm_bindings(tmp_path / "lmp")
    assert bound and all("torch/lib/libtorch_cpu.so" in b for b in bound), bound


def test_torch_loaded_after_lammps_is_reported():
    code = "from mdrive.runtime import new_lammps, load_torch_first; new_lammps(); load_torch_first()"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)
    assert r.returncode == 0 and "torch loaded after LAMMPS" in r.stderr, r.stderr[-2000:]
