"""`pace:` on the PyPI wheel (no ML-PACE): the ACE potential the wheel ships (Cu-PBE-core-rep.ace) on 256 Cu
atoms, 1 thread. python-ace's PyACECalculator alone (energy + forces + stress per call) against LAMMPS NVT through
mdrive's ASE bridge with the same calculator; ABBA order, median of `repeats` each."""
from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"
sys.path.insert(0, str(Path(__file__).parent))

from ase.build import bulk  # noqa: E402
from md_rates import abba, lammps_md, model_only  # noqa: E402

from mdrive import potentials  # noqa: E402

SPEC, STEPS = "pace:Cu-PBE-core-rep.ace", 50


def main(repeats: int = 4) -> dict:
    from pyace import PyACECalculator

    from mdrive.runtime import keep_freed_memory, potentials_dir

    keep_freed_memory()  # as every mdrive process does: both routes share it
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(4)
    atoms.rattle(0.02, seed=1)
    calc = PyACECalculator(str(potentials_dir() / "Cu-PBE-core-rep.ace"))
    pot = potentials.load(SPEC)
    rates = abba({"model_only": lambda: model_only(calc, atoms, STEPS),
                  "bridge": lambda: lammps_md(pot, atoms, STEPS)}, repeats)
    median = {k: statistics.median(v) for k, v in rates.items()}
    result = {"atoms": len(atoms), "steps": STEPS, "rates": rates, "model_only": median["model_only"],
              "bridge": median["bridge"], "bridge_fraction": round(median["bridge"] / median["model_only"], 3),
              "family": pot.family}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
