"""The protocols other than ramp with real foundation models: what each one gives, and what the MC guard rail
decides, for SevenNet-0 (mdrive's plugin of sevenn's pair_e3gnn) and CHGNet 0.3.0 (the ASE bridge).

Both models at once, one process (one core) each, per protocol:
- evscan: 4 random mixtures of Cu, Ni, Al, Fe of 32 atoms, ±20 %, 21 points (Arena's scan);
- meltquench: 32 Si atoms from random hard spheres at 2.33 g/cm³, NVT 3000 K for 0.1 ps, quench at
  3·10^16 K/s to 300 K, minimise (far faster than the paper's rates: this shows the protocol runs and what
  it reports, not converged a-Si);
- widom: Cu test insertions over a 27-atom Cu(111) slab with 10 Å of vacuum at 900 K (10 invocations of 20);
- gcmc: Cu at μ = -3 eV, 600 K, 300 MD steps (30 invocations): which engine the MC guard chose and the first
  exchanges (the default 20,000 steps take hours through the exact engine on one core).
Usage: python bench/foundation_protocols.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from arena_md import ENV  # noqa: E402

MODELS = {"7net-0": ["--potential", "sevennet:7net-0", "--backend", "plugin"],
          "chgnet": ["--potential", "chgnet:0.3.0"]}
MELT = "nvt:3000K:0.1ps, nvt:3000K->300K@30000K/ps, min"


def inputs(folder: Path) -> dict[str, list[str]]:
    """Each protocol's arguments, structures written into `folder`."""
    import ase.io
    from ase.build import fcc111

    from mdrive.protocols.mixtures import generate, write

    write(generate(["Cu", "Ni", "Al", "Fe"], 4, 32, seed=1), folder / "rm.extxyz")
    ase.io.write(folder / "slab.extxyz", fcc111("Cu", (3, 3, 3), vacuum=5.0), parallel=False)
    return {
        "evscan": ["evscan", str(folder / "rm.extxyz")],
        "meltquench": ["meltquench", "--element", "Si", "--atoms", "32", "--density", "2.33", "--schedule", MELT,
                       "--thermo-every", "10"],
        "widom": ["widom", str(folder / "slab.extxyz"), "--species", "Cu", "--temperature", "900K",
                  "--equilibrate", "20", "--steps", "100", "--every", "10", "--insertions", "20", "--blocks", "5"],
        "gcmc": ["gcmc", str(folder / "rm.extxyz"), "--species", "Cu", "--temperature", "600K", "--mu", "-3.0",
                 "--steps", "300"],
    }


def one(args: list[str], out: Path) -> dict:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "mdrive", *args, "--out", str(out)], capture_output=True, text=True,
                       env=ENV)
    result = {"returncode": p.returncode, "wall_s": round(time.perf_counter() - t, 1)}
    if p.returncode:
        result["said"] = (p.stderr.strip().splitlines() or [""])[-1]
        return result
    manifest = json.loads((out / "manifest.json").read_text())
    result.update(summary=p.stdout.strip().splitlines()[-2:], headline=manifest.get("headline"),
                  mc_guard=manifest.get("mc_guard"))
    return result


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        commands = inputs(tmp)
        result = {"runs": {}, "specs": {m: " ".join(a[1:]) for m, a in MODELS.items()}}
        for protocol, args in commands.items():
            with ThreadPoolExecutor(len(MODELS)) as pool:  # the two models at once, a core each
                runs = [pool.submit(one, [*args, *flags], tmp / f"{protocol}-{m}") for m, flags in MODELS.items()]
                result["runs"][protocol] = {m: run.result() for m, run in zip(MODELS, runs)}
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
