"""Planted model failures for the bridge (`--potential ase:planted_models:FACTORY?calls=N`, with tests/ on
PYTHONPATH): ASE's EMT, which fails after `calls` evaluations, as a model that raises or diverges would."""
from __future__ import annotations

import numpy as np
from ase.calculators.emt import EMT


class _Planted(EMT):
    def __init__(self, calls: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.calls, self.limit = 0, calls

    def calculate(self, atoms=None, properties=("energy",), system_changes=("positions",)):
        super().calculate(atoms, properties, system_changes)
        self.calls += 1
        if self.calls > self.limit:
            self.fail()

    def fail(self):
        raise NotImplementedError


class Raises(_Planted):
    def fail(self):
        raise RuntimeError(f"a traceback's first line\nplanted failure after {self.limit} calls")


class NaNForces(_Planted):
    def fail(self):
        self.results["forces"] = np.full_like(self.results["forces"], np.nan)
