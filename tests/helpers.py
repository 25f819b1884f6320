"""Shared helpers: run mdrive (optionally under mpirun -np 2) and make small structures. Real LAMMPS only."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ase.io
from ase.build import bulk

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MPIRUN = BIN / "mpirun"
LMP = BIN / "lmp"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
# potential files the tests write to plant faults hold `shell` and `if` lines, which mdrive refuses in any other file
TRUSTED = {**ENV, "MDRIVE_TRUST_POTENTIALS": "1"}


def mdrive(*args, np: int | None = None, timeout: float = 600, cwd: Path | None = None, env: dict | None = None):
    """Run `python -m mdrive ARGS` (under `mpirun -np NP` if np) and return the CompletedProcess."""
    cmd = [sys.executable, "-m", "mdrive", *map(str, args)]
    if np:
        cmd = [str(MPIRUN), "-np", str(np), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT, env=env or ENV)


def mdrive_at_once(*commands, timeout: float = 600) -> list[subprocess.CompletedProcess]:
    """Run several one-rank `python -m mdrive ARGS` at once (one per core) and return each CompletedProcess."""
    procs = [(args, subprocess.Popen([sys.executable, "-m", "mdrive", *map(str, args)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)) for args in commands]
    outputs = [p.communicate(timeout=timeout) for _, p in procs]
    return [subprocess.CompletedProcess(args, p.returncode, *out) for (args, p), out in zip(procs, outputs)]


def write_structures(path: Path, frames) -> Path:
    ase.io.write(path, frames, format="extxyz", parallel=False)
    return path


def copper(repeat: int = 3, a: float = 3.615):
    return bulk("Cu", "fcc", a=a, cubic=True).repeat(repeat)


def structure_set(folder: Path, good: int, planted: dict | None = None, name: str = "good{k:02d}") -> Path:
    """folder/set with `good` slightly rattled copper cells (named by `name`: good00, good01, ...) and the
    `planted` ones (name -> Atoms), one file each."""
    src = folder / "set"
    src.mkdir()
    for k in range(good):
        atoms = copper()
        atoms.rattle(0.02, seed=k)
        write_structures(src / f"{name.format(k=k)}.extxyz", [atoms])
    for planted_name, atoms in (planted or {}).items():
        write_structures(src / f"{planted_name}.extxyz", [atoms])
    return src



def collapsing_pair_potential(folder: Path) -> Path:
    """A deliberately wrong potential: Lennard-Jones Cu and Ag (Halicioglu & Pound 1975) with a Cu–Ag
    pair of negative epsilon, so any Ag atom pulls its neighbours onto itself: pure Cu is unaffected."""
    spec = folder / "collapse.yaml"
    spec.write_text("pair_style: lj/cut 6.0\npairs:\n  Cu-Cu: 0.4093 2.338\n  Ag-Ag: 0.3447 2.644\n"
                    "  Cu-Ag: -5.0 3.0\nelements: [Cu, Ag]\n")
    return spec


def morse_with_dip(folder: Path, center: float, width: float, depth: float, r_min: float = 0.5) -> Path:
    """A deliberately unphysical pair potential: Girifalco–Weizer Morse for Cu plus a Gaussian dip
    -depth·exp(-((r-center)/width)²), as a LAMMPS `pair_style table` file described by a potential YAML."""
    import numpy as np

    r = np.linspace(r_min, 7.0, 6000)
    d, alpha, r0 = 0.3429, 1.3588, 2.866
    morse = d * (np.exp(-2 * alpha * (r - r0)) - 2 * np.exp(-alpha * (r - r0)))
    dmorse = -2 * alpha * d * (np.exp(-2 * alpha * (r - r0)) - np.exp(-alpha * (r - r0)))
    dip = -depth * np.exp(-((r - center) / width) ** 2)
    ddip = -dip * 2 * (r - center) / width ** 2
    energy, force = morse + dip, -(dmorse + ddip)
    table = folder / "dip.table"
    rows = "\n".join(f"{i + 1} {x:.8f} {e:.10e} {f:.10e}" for i, (x, e, f) in enumerate(zip(r, energy, force)))
    table.write_text(f"# Morse Cu with a spurious dip\n\nDIP\nN {len(r)}\n\n{rows}\n")
    spec = folder / "dip.yaml"
    spec.write_text(f"pair_style: table linear 6000\npair_coeff: ['* * {table} DIP 7.0']\n"
                    f"files: [{table}]\nelements: [Cu]\n")
    return spec


def tiny_mace(path: Path, atomic_numbers=(28, 29), seed: int = 0, channels: int = 8, max_ell: int = 2) -> Path:
    """A small MACE model with random weights, built offline in well under a second and saved whole
    (float64), for the ASE calculator and the LAMMPS export. No download anywhere."""
    import numpy as np
    import torch
    from e3nn import o3
    from mace import modules

    torch.manual_seed(seed)
    torch.set_default_dtype(torch.float64)
    model = modules.MACE(
        r_max=5.0, num_bessel=8, num_polynomial_cutoff=5, max_ell=max_ell,
        interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        interaction_cls_first=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        num_interactions=2, num_elements=len(atomic_numbers),
        hidden_irreps=o3.Irreps(f"{channels}x0e + {channels}x1o"), MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=np.array([-1.5 - 0.1 * k for k in range(len(atomic_numbers))]),
        avg_num_neighbors=12.0, atomic_numbers=list(atomic_numbers), correlation=2,
        gate=torch.nn.functional.silu)
    torch.save(model.double(), path)
    return path


def mace_spec(model: Path) -> str:
    return f"ase:mace.calculators:MACECalculator?model_paths={model}&default_dtype=float64&device=cpu"


def lj_melt(cells: int = 4) -> str:
    """The classic LAMMPS LJ melt set-up (fcc at ρ* = 0.8442, T* = 3), `cells`³ unit cells, NVE."""
    return f"""
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 1 box
create_atoms 1 box
mass 1 1.0
velocity all create 3.0 87287 loop geom
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
fix 1 all nve
"""


def copper_set(folder: Path, repeats=(3, 4)) -> Path:
    """A folder of rattled fcc Cu cells, one file each (cu32.extxyz, cu108.extxyz, ... for repeats 2, 3, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, repeat in enumerate(repeats):
        atoms = copper(repeat)
        atoms.rattle(0.02, seed=k)
        write_structures(folder / f"cu{len(atoms)}.extxyz", [atoms])
    return folder


def nequip_stub(path: Path, target: str = "pair_nequip") -> Path:
    """A file with only the metadata nequip-compile writes into a .nequip.pt2 (no model): for the rules mdrive reads
    from it (target, type names, device), never for running. Real compiled models: tests/nequip_models.py."""
    import zipfile

    inputs = "pos edge_index atom_types" + ("" if target == "pair_allegro" else " cell edge_cell_shift")
    outputs = "atomic_energy total_energy forces stress" if target == "ase" else "atomic_energy forces virial"
    meta = {"r_max": "4.0", "type_names": "Cu", "nequip_aoti_inputs": inputs, "nequip_aoti_outputs": outputs,
            "AOTI_DEVICE_KEY": "cpu"}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("m/data/aotinductor/model/x.wrapper_metadata.json", json.dumps(meta))
    return path


def single_point_process(spec, structure, backend="auto", run=0, prefix=(), env=None):
    """tests/single_point.py in its own process: one single point of a potential in LAMMPS, and N NVE steps."""
    cmd = [*prefix, sys.executable, str(ROOT / "tests" / "single_point.py"), spec, str(structure),
           "--backend", backend, "--run", str(run)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, cwd=ROOT, timeout=600)


def single_point(spec, structure, backend="auto", run=0, env=None) -> dict:
    out = single_point_process(spec, structure, backend, run, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))
