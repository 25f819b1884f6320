"""GPU mode (`--gpus N`): the LAMMPS command line a potential needs on Kokkos GPUs, and the rules that refuse
wrong combinations or warn about slow ones before any run (docs/lammps-notes §5–6).

Kokkos on GPUs defaults to `neigh full` + `newton off`, which MLIP decks (newton on) cannot run with, so
every Kokkos style gets `-pk kokkos newton on neigh half` (pace/kk needs the half list too). The PyPI MPICH
is not CUDA-aware: several ranks per run also get `gpu/aware off`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mdrive.errors import InputError
from mdrive.potentials import Potential
from mdrive.potentials.families import KOKKOS_BUILD, ROUTES

GPU_BACKENDS = ("CUDA", "HIP", "SYCL")
# fixes without a Kokkos variant: each invocation syncs all atoms between device and host
NO_KOKKOS = ("halt", "external", "gcmc", "widom", "atom/swap", "box/relax", "sgcmc", "temp/csvr",
             "temp/berendsen", "pair", "ave/time", "ave/atom", "ave/chunk")


@dataclass
class GpuPlan:
    args: list[str] = field(default_factory=list)  # LAMMPS command-line arguments
    warnings: list[str] = field(default_factory=list)


def plan(potential: Potential, gpus: int, ranks_per_run: int, lammps_version: int,
         fixes: set[str] = frozenset(), gpu_aware: bool = False) -> GpuPlan:
    """The command line for `gpus` GPUs per run, or InputError naming what is wrong."""
    if gpus < 1:
        return GpuPlan()
    name = f"potential {potential.spec}"
    if potential.bridge is not None:
        raise InputError(f"--gpus: the ASE bridge ({potential.spec}) evaluates the model in Python; put it on the "
                         f"GPU in the calculator (e.g. device=cuda) and run without --gpus")
    if ranks_per_run > 1 and gpus != ranks_per_run:
        raise InputError(f"--gpus {gpus} with --ranks-per-run {ranks_per_run}: Kokkos runs one MPI rank per GPU; "
                         f"give as many ranks per run as GPUs")
    route = ROUTES.get(potential.family)
    out = GpuPlan()
    if route is not None and route.gpu_without_kokkos:
        out.warnings += route.gpu(potential, gpus, ranks_per_run, lammps_version)
        return out
    if potential.kokkos is None:
        raise InputError(f"--gpus: {name} ({potential.styles[0]}) has no Kokkos style; run it on CPUs "
                         f"(without --gpus)")
    if potential.kokkos.refuse:
        raise InputError(f"--gpus: {name}: {potential.kokkos.refuse}")
    if route is not None and route.gpu is not None:  # the family's own rules (mdrive.potentials.families)
        out.warnings += route.gpu(potential, gpus, ranks_per_run, lammps_version)
    package = potential.kokkos.package.split()
    if ranks_per_run > 1 and not gpu_aware:
        package += ["gpu/aware", "off"]
    out.args = ["-k", "on", "g", str(gpus), "-sf", "kk", "-pk", "kokkos", *package]
    for fix in sorted(fixes & set(NO_KOKKOS)):
        out.warnings.append(f"fix {fix} has no Kokkos variant: each time it acts, all atoms are copied between "
                            f"GPU and host; keep it infrequent (e.g. a larger --thermo-every)")
    return out


def plan_plain(gpus: int, ranks_per_run: int, fixes: set[str] = frozenset()) -> GpuPlan:
    """Decks with their own built-in pair style (the reduced-unit Lennard-Jones fluid: lj/cut/kk)."""
    from mdrive.potentials.classical import lj

    return plan(lj("lj", ""), gpus, ranks_per_run, 0, fixes)


def check_build(build, gpus: int) -> None:
    """A GPU run needs KOKKOS with a GPU backend, and a GPU this process can see."""
    if gpus < 1:
        return
    backends = [b for b in build.kokkos_backends() if b.upper() in GPU_BACKENDS]
    if not backends:
        raise InputError(f"--gpus {gpus}: this LAMMPS (version {build.version}) has no Kokkos GPU backend; build "
                         f"{KOKKOS_BUILD}, or run without --gpus")
    if not build.has_gpu_device:
        raise InputError(f"--gpus {gpus}: LAMMPS sees no GPU on this node ({'/'.join(backends)} build); run on a "
                         f"GPU node or without --gpus")


def deck_fixes(templates: list[Path]) -> set[str]:
    """Fix styles a set of deck templates use (their includes too, when they sit beside them)."""
    from mdrive.decks import deck_styles

    return {style for kind, style in deck_styles(templates) if kind == "fix"}
