"""Decks: templates in inputs/ (plain LAMMPS input with ${variables}) + values + potential + structure.

A composed run directory is self-contained and runs by hand: `cd RUN && lmp -in in.lammps`.
in.lammps is the template verbatim under a header of `variable NAME index VALUE` lines (index variables
given first win, exactly like `lmp -var NAME VALUE`), data.lammps the structure, potential.in the pair
lines; templates that `include` other templates get those copied beside them.
"""
from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mdrive.errors import InputError

if TYPE_CHECKING:  # a run's own process imports this module to read its deck: keep ASE out of its start
    from mdrive.potentials import Potential
    from mdrive.structures import Structure

DECK, DATA, POTENTIAL = "in.lammps", "data.lammps", "potential.in"
_VAR = re.compile(r"\$\{(\w+)\}")
_INCLUDE = re.compile(r"^\s*include\s+([^\s$]+)\s*$", re.M)


def templates_dir() -> Path:
    """inputs/ of the source tree, or its installed copy under <prefix>/share/mdrive/inputs."""
    here = Path(__file__).resolve().parent.parent / "inputs"
    return here if here.is_dir() else Path(sys.prefix) / "share" / "mdrive" / "inputs"


def template_path(name: str) -> Path:
    path = templates_dir() / name
    if not path.is_file():
        raise InputError(f"deck template {name} not found in {templates_dir()}")
    return path


def required_variables(text: str) -> set[str]:
    """${names} a template uses and does not define itself."""
    defined = set(re.findall(r"^\s*variable\s+(\w+)", text, re.M))
    return set(_VAR.findall(text)) - defined - {"mdrive_hooks"}


def render(template: str, variables: dict) -> str:
    """The deck text: template verbatim below the values of its variables."""
    text = template_path(template).read_text()
    values = {"data": DATA, "potential": POTENTIAL, **variables}
    missing = sorted(required_variables(text) - set(values))
    if missing:
        raise InputError(f"deck template {template} needs values for {', '.join(missing)}")
    header = [f"# composed by mdrive from inputs/{template}; rerun with: lmp -in {DECK}"]
    header += [f"variable {k} index {_quote(v)}" for k, v in values.items()]
    return "\n".join(header) + "\n\n" + text


# a fix or compute command, or one inside an `if "..."` of a template: (kind, style)
_STYLE = re.compile(r"(?:^\s*|\")(fix|compute)\s+\S+\s+\S+\s+([\w/]+)", re.M)


def deck_styles(templates: list[Path]) -> set[tuple[str, str]]:
    """(kind, style) of every fix and compute a set of templates uses, their includes too (beside them)."""
    seen, styles = set(), set()
    todo = list(templates)
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        text = path.read_text()
        styles |= set(_STYLE.findall(text))
        todo += [path.parent / n for n in re.findall(r"^\s*include\s+([^\s$]+)", text, re.M)]
        todo += [path.parent / n for n in re.findall(r'include ([\w.-]+\.in)"', text)]
    return styles


def check_build(build, templates: list[str]) -> None:
    """Refuse, before any run, decks whose fixes or computes the running LAMMPS lacks (an older build)."""
    if build.version < MINIMUM_LAMMPS:
        raise InputError(f"this LAMMPS ({build.version}) is older than mdrive supports: it needs LAMMPS >= "
                         f"{MINIMUM_LAMMPS} (29 Sep 2021; its Python module and decks); point mdrive at a newer build "
                         f"(README: another LAMMPS)")
    used = deck_styles([templates_dir() / t for t in templates] + [templates_dir() / "mdrive-hooks.in"])
    for kind, style in sorted(used):
        if not build.has_style(kind, style):
            users = [t for t in templates if (kind, style) in deck_styles([templates_dir() / t])]
            raise InputError(f"this LAMMPS ({build.version}) has no {kind} style {style}, which mdrive's deck "
                             f"{', '.join(users) or 'mdrive-hooks.in'} uses: run a newer LAMMPS, or one with the "
                             f"package that has it (`python -m mdrive info`)")


MINIMUM_LAMMPS = 20210929  # the oldest LAMMPS mdrive is tested on (Debian 12's); every deck is checked as above


@dataclass(frozen=True)
class More:
    """A deck's further inputs: generated files (name -> text) the deck includes, e.g. a schedule's stages, and
    the atom types when they are not the structure's elements (a species MC will insert)."""

    files: dict[str, str] = field(default_factory=dict)
    elements: list[str] | None = None


def compose(run_dir: Path, template: str, variables: dict, potential: Potential | None = None,
            structure: Structure | None = None, more: More = More()) -> Path:
    """Write deck, data file, potential include and included templates into `run_dir`. The data file's
    atom style is the deck's `atom_style` variable (full where molecules are inserted), else atomic."""
    from mdrive.structures import write_data

    run_dir.mkdir(parents=True, exist_ok=True)
    elements = more.elements
    if structure is not None:
        elements = elements or structure.elements
        write_data(structure.atoms, run_dir / DATA, elements, variables.get("atom_style", "atomic"))
    if potential is not None:
        (run_dir / POTENTIAL).write_text(potential_text(potential, elements))
    files = more.files
    for name, text in files.items():
        (run_dir / name).write_text(text)
    deck = render(template, variables)
    texts = [template_path(template).read_text(), *files.values()]
    for name in sorted({n for t in texts for n in _INCLUDE.findall(t)} - set(files)):
        shutil.copyfile(template_path(name), run_dir / name)
    (run_dir / DECK).write_text(deck)
    return run_dir / DECK


def composer(template: str, variables: dict, potential: Potential | None = None, structure: Structure | None = None,
             **more):
    """A job's compose step: run_dir -> compose(...); `more`: the fields of More (files, elements)."""
    return lambda run_dir: compose(run_dir, template, variables, potential, structure, More(**more))


def potential_text(potential: Potential, elements: list[str]) -> str:
    return "\n".join(potential.lines(elements)) + "\n"


def commands(deck: str) -> list[str]:
    """Logical input lines of a deck (continuations joined, comments and blanks dropped)."""
    out, pending = [], ""
    for line in deck.splitlines():
        body = _strip_comment(line).rstrip()
        if body.endswith("&"):
            pending += body[:-1] + " "
            continue
        body = (pending + body).strip()
        pending = ""
        if body:
            out.append(body)
    return out


def _strip_comment(line: str) -> str:
    # a '#' outside quotes starts a comment, as in LAMMPS
    quote = None
    for i, ch in enumerate(line):
        if ch in "\"'" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None:
            return line[:i]
    return line


def _quote(value) -> str:
    text = str(value)
    return f'"{text}"' if not text or any(c.isspace() for c in text) else text
