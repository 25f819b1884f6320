"""MLIP MD speed, 1 thread: a 2-layer MACE (64x0e+64x1o, max_ell 3, r_max 5 Å) on 500 atoms.

(1) the model alone: energy + forces + stress through mace-torch's ASE calculator, positions nudged each
call; (2) ASE's own MD (VelocityVerlet) with the same calculator; (3) LAMMPS MD through mdrive's bridge
(fix external); (4) LAMMPS MD through mdrive's pair_style mace plugin (no_domain_decomposition, 1 rank).
Reported as steps/s and as a fraction of the model-only rate."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import mace  # noqa: E402,F401
import torch  # noqa: E402
from ase import units  # noqa: E402
from ase.build import bulk  # noqa: E402
from ase.md.verlet import VelocityVerlet  # noqa: E402
from helpers import mace_spec, tiny_mace  # noqa: E402
from mace.calculators import MACECalculator  # noqa: E402
from md_rates import STEPS, lammps_md, model_only  # noqa: E402

from mdrive import potentials  # noqa: E402


def structure():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((5, 5, 5))[:500]
    atoms.symbols[::2] = "Ni"
    atoms.rattle(0.02, seed=1)
    return atoms


def ase_md(calc, atoms) -> float:
    atoms = atoms.copy()
    atoms.calc = calc
    dyn = VelocityVerlet(atoms, 2 * units.fs)
    dyn.run(1)
    t = time.perf_counter()
    dyn.run(STEPS)
    return STEPS / (time.perf_counter() - t)


def bridge(model, atoms) -> float:
    return lammps_md(potentials.load(mace_spec(model)), atoms)


def plugin(model, atoms) -> float:
    import subprocess

    from mdrive import plugins

    if plugins.library() is None:
        plugins.build()
    subprocess.run([str(Path(sys.executable).parent / "mace_create_lammps_model"), str(model), "--dtype", "float64"],
                   check=True, capture_output=True)
    export = model.with_name(model.name + "-lammps.pt")
    return lammps_md(potentials.load(f"mace:{export}?no_domain_decomposition", "plugin"), atoms)


def main() -> dict:
    from mdrive.runtime import keep_freed_memory

    keep_freed_memory()  # as every mdrive process does: all routes below, model alone included, share it
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        model = tiny_mace(Path(tmp) / "bench.model", channels=64, max_ell=3)
        calc = MACECalculator(model_paths=str(model), default_dtype="float64", device="cpu")
        atoms = structure()
        rates = {"model_only": model_only(calc, atoms), "ase_md": ase_md(calc, atoms),
                 "bridge": bridge(model, atoms), "plugin": plugin(model, atoms)}
    result = {k: round(v, 3) for k, v in rates.items()}
    result.update({f"{k}_fraction": round(v / rates["model_only"], 3) for k, v in rates.items() if k != "model_only"})
    result["atoms"] = 500
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
