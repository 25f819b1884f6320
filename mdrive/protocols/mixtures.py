"""Random-mixture structure sets: random packings relaxed with ZBL in LAMMPS (inputs/relax.in).

MLIP Arena's RM24 set exists only on a model hub; this generator makes sets of the same kind offline,
deterministically for a seed.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import ase.io
import numpy as np
from mpi4py import MPI

from mdrive import decks, potentials
from mdrive.errors import InputError
from mdrive.run import StopControl, run_deck
from mdrive.structures import Structure, check, random_mixture

ZBL = "zbl:2.0,3.0"  # short-ranged repulsion only: pushes packed atoms apart without ordering them


def generate(elements: list[str], count: int, n_atoms: int, seed: int) -> list[Structure]:
    if count < 1 or n_atoms < 2:
        raise InputError("random mixtures need --count >= 1 and --atoms >= 2")
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        atoms = relax(random_mixture(elements, n_atoms, rng))
        s = Structure(f"rm-{seed}-{k:03d}", atoms, f"random-mixture seed={seed} index={k}")
        check(s)
        out.append(s)
    return out


def relax(atoms):
    """Atoms with positions minimised under ZBL at fixed cell (one rank, a scratch folder)."""
    structure = Structure("relax", atoms, "random packing")
    with tempfile.TemporaryDirectory(prefix="mdrive-relax-") as tmp:
        run_dir = Path(tmp)
        decks.compose(run_dir, "relax.in", {"etol": 0, "ftol": 1e-3, "maxiter": 2000},
                      potentials.load(ZBL), structure)
        error = run_deck(run_dir, MPI.COMM_SELF, StopControl())
        if error:
            raise RuntimeError(f"ZBL relaxation failed: {error}")
        relaxed = ase.io.read(run_dir / "relaxed.data", format="lammps-data", atom_style="atomic", parallel=False)
    out = atoms.copy()
    out.positions = relaxed.positions  # same ids in the same order; the cubic cell is not rotated
    out.wrap()
    return out


def write(structures: list[Structure], path: Path) -> None:
    ase.io.write(path, [s.atoms for s in structures], format="extxyz", parallel=False)
