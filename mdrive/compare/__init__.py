"""`mdrive compare`: potentials ranked across protocols from your own output folders (results layer).

data.py reads the folders and builds the leaderboard, figures.py draws, page.py writes the one HTML file.
"""
from __future__ import annotations

from pathlib import Path

from mdrive.errors import InputError


def build(out: Path, folders: list[Path], labels: dict[str, str], fmt: str = "html") -> list[str]:
    """Write the comparison to `out` (HTML or Markdown); returns the warnings it printed in it."""
    from mdrive.compare import data
    from mdrive.compare.page import COLUMNS
    from mdrive.manifest import now, write_text

    if out.exists() and out.is_dir():
        raise InputError(f"{out} is a folder; name the {fmt.upper()} file to write, e.g. compare.{fmt}")
    read = data.read_folders(folders, labels)
    unlike = data.mismatches(read)
    warnings = [text for _, text in unlike]
    table = data.leaderboard(read, {command for command, _ in unlike})
    if fmt == "md":
        notes = "".join(f"\n> ⚠ {w} — not ranked together.\n" for w in warnings)
        write_text(out, data.markdown(table, COLUMNS) + notes)
        return warnings
    from mdrive.compare import figures, page

    labels_in_order = list(table["potential"])
    write_text(out, page.page(table, figures.all_figures(read, labels_in_order), read, warnings, now()))
    return warnings
