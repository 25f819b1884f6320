"""`mdrive compare`: potentials ranked across protocols from your own output folders (results layer).

data.py reads the folders and builds the leaderboard, figures.py draws, page.py writes the one HTML file.
"""
from __future__ import annotations

from pathlib import Path

from mdrive.errors import InputError


def build(out: Path, folders: list[Path], labels: dict[str, str], fmt: str = "html") -> list[str]:
    """Write the comparison to `out` (HTML or Markdown); returns the warnings it printed in it."""
    from mdrive.compare import data
    from mdrive.compare.page import columns
    from mdrive.manifest import now, write_text

    check_out(out, folders, fmt)
    read = data.read_folders(folders, labels)
    unlike = data.mismatches(read)
    warnings = [text for _, text in unlike]
    table = data.leaderboard(read, {command for command, _ in unlike})
    if fmt == "md":
        notes = "".join(f"\n> ⚠ {w} — not ranked together.\n" for w in warnings)
        write_text(out, MARK + data.markdown(table, columns()) + notes)
        return warnings
    from mdrive.compare import figures, page

    labels_in_order = list(table["potential"])
    write_text(out, page.page(table, figures.all_figures(read, labels_in_order), read, warnings, now()))
    return warnings


MARK = "<!-- generator: mdrive compare -->\n"  # the Markdown's first line; the HTML's <meta name="generator">


def check_out(out: Path, folders: list[Path], fmt: str) -> None:
    """compare writes one new file, or replaces one it wrote: never a file inside the folders it reads (a
    manifest, a log), nor anything else that is already there."""
    if out.is_dir():
        raise InputError(f"{out} is a folder; name the {fmt.upper()} file to write, e.g. compare.{fmt}")
    above = next((p for p in out.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise InputError(f"{out}: {above} is a file, not a folder; name a file in a folder")
    where = out.resolve()
    for folder in folders:
        if where.is_relative_to(folder.resolve()):
            raise InputError(f"{out} is inside {folder}, which compare reads; write the report elsewhere")
    if out.exists() or out.is_symlink():
        try:
            head = out.open("rb").read(4096).decode(errors="replace")
        except OSError:
            head = ""
        if out.is_symlink() or ('content="mdrive compare"' not in head and not head.startswith(MARK)):
            raise InputError(f"{out} exists and mdrive compare did not write it; name a new file (or remove it)")
