"""`nequip:` and `allegro:` on the PyPI wheel, 1 thread: tiny models trained and compiled as the tests make them
(tests/nequip_models.py), on 256 Cu atoms. Each route against nequip's NequIPCalculator alone on the same model:
mdrive's plugin (the .nequip.pt2 compiled for the pair style) against the calculator on the same model compiled
for ASE (--target ase: the same AOTInductor code), and the ASE bridge against the calculator on the checkpoint.
ABBA order, median of `repeats` each."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"
HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from ase.build import bulk  # noqa: E402
from md_rates import abba, lammps_md, model_only  # noqa: E402

STEPS = 50


def for_ase(checkpoint: Path) -> Path:
    """The checkpoint compiled for NequIPCalculator (--target ase), beside the pair-style one."""
    out = checkpoint.parent.parent / "ase.nequip.pt2"
    if not out.is_file():
        subprocess.run([str(Path(sys.executable).parent / "nequip-compile"), str(checkpoint), str(out), "--mode",
                        "aotinductor", "--device", "cpu", "--target", "ase"], check=True, capture_output=True)
    return out


def main(repeats: int = 4) -> dict:
    import nequip_models
    from nequip.integrations.ase import NequIPCalculator

    from mdrive import plugins, potentials
    from mdrive.runtime import keep_freed_memory, load_torch_first

    load_torch_first()
    keep_freed_memory()  # as every mdrive process does: all routes share it
    cache = Path(os.environ.get("MDRIVE_BENCH_CACHE", tempfile.mkdtemp(prefix="mdrive-bench-nequip-")))
    os.environ["MDRIVE_CACHE"] = str(cache)
    plugins.library("nequip") or plugins.build("nequip")
    models = nequip_models.models(cache)
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(4)
    atoms.rattle(0.02, seed=1)
    result = {"atoms": len(atoms), "steps": STEPS, "routes": {}}
    for style, model in models.items():
        compiled = NequIPCalculator.from_compiled_model(str(for_ase(model.checkpoint)), device="cpu")
        eager = NequIPCalculator._from_saved_model(str(model.checkpoint), device="cpu")
        plugin, bridge = potentials.load(f"{style}:{model.compiled}"), potentials.load(f"{style}:{model.checkpoint}")
        pairs = {"plugin": (plugin, compiled), "bridge": (bridge, eager)}
        for route, (pot, calc) in pairs.items():
            rates = abba({"calculator": lambda c=calc: model_only(c, atoms, STEPS),
                          "lammps": lambda p=pot: lammps_md(p, atoms, STEPS)}, repeats)
            median = {k: statistics.median(v) for k, v in rates.items()}
            result["routes"][f"{style} {route}"] = {
                "family": pot.family, "rates": rates, **median,
                "fraction": round(median["lammps"] / median["calculator"], 3)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
