"""EV scan: one deck looping over the 21 scale factors (inputs/evscan.in, what mdrive runs) against one
LAMMPS instance and `run 0` per point (read_data each time). Same structure, potential and points."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from ase.build import bulk
from mpi4py import MPI

from mdrive import decks, potentials
from mdrive.run import StopControl, run_deck
from mdrive.structures import Structure


def loop_deck(structure, potential) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        decks.compose(Path(tmp), "evscan.in", {"strain": 0.2, "points": 21}, potential, structure)
        t = time.perf_counter()
        assert run_deck(Path(tmp), MPI.COMM_SELF, StopControl()) is None
        return time.perf_counter() - t


def point_decks(structure, potential) -> float:
    total = 0.0
    for s in [-0.2 + 0.02 * k for k in range(21)]:
        atoms = structure.atoms.copy()
        atoms.set_cell(atoms.cell * (1 + s), scale_atoms=True)
        with tempfile.TemporaryDirectory() as tmp:
            decks.compose(Path(tmp), "single.in", {}, potential, Structure("p", atoms, "bench"))
            t = time.perf_counter()
            assert run_deck(Path(tmp), MPI.COMM_SELF, StopControl()) is None
            total += time.perf_counter() - t
    return total


def main() -> dict:
    structure = Structure("cu", bulk("Cu", "fcc", a=3.615, cubic=True).repeat(4), "bench")
    result = {}
    for spec in ("eam:Cu_u3.eam", "snap:Ta06A"):
        pot = potentials.load(spec)
        s = structure if spec.startswith("eam") else Structure("ta", bulk("Ta", "bcc", a=3.31, cubic=True).repeat(4), "b")
        loop = min(loop_deck(s, pot) for _ in range(3))
        points = min(point_decks(s, pot) for _ in range(3))
        result[spec] = {"atoms": len(s.atoms), "loop_deck_s": round(loop, 3), "deck_per_point_s": round(points, 3),
                        "speedup": round(points / loop, 2)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
