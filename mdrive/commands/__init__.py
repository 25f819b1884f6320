"""Command-line commands; each module has add(subparsers), which sets `run(args, argv) -> exit code`."""
from __future__ import annotations

from pathlib import Path


def add_run_options(p, out_default: str) -> None:
    """Options every protocol shares: potential, MPI groups, output folder, resume, wall-time budget."""
    p.add_argument("--potential", metavar="SPEC",
                   help="FAMILY:FILE (snap:W_2940_2017_2, eam/alloy:CuNi.eam.alloy, mace:m.model-lammps.pt, ...), "
                        "lj, zbl, or a YAML file")
    p.add_argument("--backend", choices=["auto", "native", "plugin", "ase"], default="auto",
                   help="how a mace: model runs: pair_style mace (native), mdrive's plugin, or the ASE bridge; "
                        "auto: native when the build has it, else the bridge")
    p.add_argument("--ranks-per-run", type=int, default=1, metavar="K",
                   help="MPI ranks per LAMMPS run; the world is split into groups of K ranks (default 1)")
    p.add_argument("--gpus", type=int, default=0, metavar="N",
                   help="GPUs per run (Kokkos, one MPI rank per GPU): adds the style's Kokkos command line, "
                        "after checking it against the build (default 0: CPU)")
    p.add_argument("--out", type=Path, default=Path(out_default), help=f"output folder (default {out_default})")
    p.add_argument("--resume", action="store_true", help="keep finished runs in --out, redo only the rest")
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume: run again the runs whose verdict is 'error' (crashes, set-up errors)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace mdrive's results in --out (refused for a folder holding anything else)")
    p.add_argument("--memory-per-run", type=_bytes, metavar="SIZE",
                   help="memory budget of one run, all its ranks together (e.g. 8GB, 500MB); a run past it "
                        "fails alone (default: 80%% of the node's available memory shared by the runs on it)")
    p.add_argument("--time-limit", type=_duration, metavar="SECONDS|H:MM:SS",
                   help="wall-time budget; runs still going then end as censored, resumable")


def read_structures(args, potential) -> tuple[list, dict]:
    """The structures of a protocol command and, with --skip-bad, those rejected up front (name -> why:
    unreadable, unsound, or elements the potential lacks); without it the first one stops everything."""
    from mdrive import structures
    from mdrive.errors import InputError

    rejected = {} if getattr(args, "skip_bad", False) else None
    kept = []
    for s in structures.read(args.structures, rejected):
        try:
            potential.check_elements(s.elements)
            kept.append(s)
        except InputError as err:
            if rejected is None:
                raise
            rejected[s.name] = str(err)
    if rejected is not None and not kept:
        raise InputError(f"--skip-bad: every structure was rejected, e.g. {next(iter(rejected.values()))}")
    return kept, rejected or {}


def run_options(args) -> dict:
    """The Plan fields every protocol takes straight from add_run_options' options."""
    from mdrive.errors import InputError

    if args.retry_failed and not args.resume:
        raise InputError("--retry-failed continues a study: use it with --resume")
    if args.memory_per_run and args.memory_per_run / args.ranks_per_run < MIN_MEMORY_PER_RANK:
        raise InputError(f"--memory-per-run {args.memory_per_run / 1e6:.0f} MB leaves a run's rank less than the "
                         f"{MIN_MEMORY_PER_RANK / 1e6:.0f} MB its process needs to start (Python, MPI, LAMMPS); "
                         f"give at least {MIN_MEMORY_PER_RANK * args.ranks_per_run / 1e6:.0f} MB")
    return {"ranks_per_run": args.ranks_per_run, "gpus": args.gpus, "resume": args.resume,
            "retry_failed": args.retry_failed, "overwrite": args.overwrite, "time_limit": args.time_limit,
            "memory_per_run": args.memory_per_run}


def add_md_options(p, timestep: str, tdamp: float, pdamp: float, thermo: str, seed: str) -> None:
    """MD settings in fs that ramp and meltquench share (defaults None: the protocol's own)."""
    p.add_argument("--timestep", type=float, help=f"fs (default {timestep})")
    p.add_argument("--tdamp", type=float, help=f"thermostat damping, fs (default {tdamp:g})")
    p.add_argument("--pdamp", type=float, help=f"barostat damping, fs (default {pdamp:g})")
    p.add_argument("--thermo-every", type=int, help=f"steps between {thermo}")
    p.add_argument("--seed", type=int, help=f"{seed}, recorded (default 12345)")


def floats(text: str) -> list[float]:
    """A comma-separated list of numbers (argparse type)."""
    import argparse

    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number or a comma-separated list of numbers") from None


def _duration(text: str) -> float:
    import argparse

    try:
        parts = [float(x) for x in text.split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not SECONDS or H:MM:SS") from None
    seconds = sum(v * 60 ** k for k, v in enumerate(reversed(parts)))
    if seconds <= 0 or len(parts) > 3:
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive SECONDS or H:MM:SS")
    return seconds


# measured: Python, mpi4py and liblammps take ~64 MB resident; BLAS buffers and imports want more room
MIN_MEMORY_PER_RANK = 256e6
UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
         "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}


def _bytes(text: str) -> int:
    """A memory size: 8GB, 500MB, 2GiB, or bytes (argparse type)."""
    import argparse
    import re

    m = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([a-z]*)\s*", text.lower())
    if not m or m.group(2) not in UNITS:
        raise argparse.ArgumentTypeError(f"'{text}' is not a memory size such as 8GB, 500MB or 2GiB")
    size = float(m.group(1)) * UNITS[m.group(2)]
    if not 1e7 <= size < 2 ** 62:
        raise argparse.ArgumentTypeError(f"'{text}' is not a usable memory budget (10 MB at least)")
    return int(size)
