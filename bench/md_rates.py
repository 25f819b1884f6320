"""Per-step rates on one thread, shared by the route benchmarks: a calculator alone (energy + forces + stress per
call, positions nudged each call) and LAMMPS NVT MD of an mdrive potential (LAMMPS's own timesteps/s, its set-up
force call left out)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from mdrive import decks
from mdrive.logs import read_log
from mdrive.run import StopControl, run_deck
from mdrive.structures import Structure

STEPS = 20


def model_only(calc, atoms, steps: int = STEPS) -> float:
    """Calls per second of the calculator alone."""
    atoms = atoms.copy()
    atoms.calc = calc
    atoms.get_potential_energy()  # warm-up
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for _ in range(steps):
        atoms.positions += rng.normal(0, 1e-3, atoms.positions.shape)
        atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    return steps / (time.perf_counter() - t)


def lammps_md(pot, atoms, steps: int = STEPS) -> float:
    """LAMMPS NVT steps per second of potential `pot` on `atoms`."""
    s = Structure("b", atoms, "bench")
    with tempfile.TemporaryDirectory() as tmp:
        variables = {"seed": 1, "t_start": 300, "t_stop": 300, "steps": steps, "dt": 0.002, "tdamp": 0.1,
                     "thermo_every": 10}
        decks.compose(Path(tmp), "ramp-nvt.in", variables, pot, s)
        assert run_deck(Path(tmp), MPI.COMM_SELF, StopControl(), callbacks=pot.callbacks(s.elements)) is None
        run = read_log(Path(tmp) / "log.lammps").runs[-1]
        return run.performance["timesteps/s"]


def abba(measures: dict, repeats: int) -> dict[str, list[float]]:
    """Rates of each named measure (a callable returning steps/s), `repeats` times in ABBA order."""
    rates = {name: [] for name in measures}
    for k in range(repeats):
        order = list(measures.items())
        for name, measure in order if k % 2 == 0 else order[::-1]:
            rates[name].append(round(measure(), 3))
    return rates
