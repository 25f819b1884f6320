"""A potential YAML file (`--potential my.yaml`) is data, not code: it may define a potential and nothing else.

Potential files are passed between groups and downloaded, and every line of one reaches LAMMPS, where `shell`,
`python`, `print ... file` or a `$`-substitution would run or write anything. So each value is checked here:
one line, no LAMMPS substitution, and `commands:` holds only the commands a potential needs; a file it reads
(`include`) must be one it lists under `files:`. MDRIVE_TRUST_POTENTIALS=1 in the environment lifts the
command check (not the one-line rule) for files you wrote yourself (mdrive's crash tests plant faults that way).
"""
from __future__ import annotations

import os
from pathlib import Path

from mdrive.errors import InputError

KEYS = {"pair_style": "a pair style line", "pair_coeff": "pair_coeff arguments (a line or a list of lines)",
        "pairs": "a mapping A-B: pair_coeff arguments", "elements": "a list of element symbols",
        "files": "a list of the files it reads", "newton": "on or off", "multi_rank": "true or false",
        "kokkos": "the Kokkos style's name", "styles": "a list of pair style names", "units": "a LAMMPS units name",
        "commands": "a list of further LAMMPS lines"}
# what a potential needs besides pair_style/pair_coeff: nothing here runs a program, or writes or reads a file
COMMANDS = {"pair_style", "pair_coeff", "pair_modify", "mass", "kspace_style", "kspace_modify", "neigh_modify",
            "neighbor", "comm_modify", "special_bonds", "bond_style", "bond_coeff", "angle_style", "angle_coeff",
            "dihedral_style", "dihedral_coeff", "improper_style", "improper_coeff", "dielectric"}
READS = ("include",)  # commands allowed on a listed file only (read_* would replace the structure: never)
STYLES_REFUSED = ("python",)  # pair styles that run code a file names
UNITS = ("metal", "real", "lj", "si", "cgs", "electron", "micro", "nano")
TRUST = "MDRIVE_TRUST_POTENTIALS"


def check(path: Path, doc) -> None:
    """Refuse, in one line, any potential YAML that is more than a potential or of the wrong shape."""
    if not isinstance(doc, dict):
        raise InputError(f"{path}: a potential YAML is a mapping with 'pair_style' and 'pair_coeff' or 'pairs'")
    unknown = sorted(str(k) for k in doc if k not in KEYS)
    if unknown:
        raise InputError(f"{path}: unknown key '{unknown[0]}'; a potential YAML takes {', '.join(KEYS)}")
    if "pair_style" not in doc or not ("pair_coeff" in doc or "pairs" in doc):
        raise InputError(f"{path}: a potential YAML needs 'pair_style' and 'pair_coeff' or 'pairs' keys")
    _check_lines(path, doc)
    _check_rules(path, doc)
    listed = {(path.parent / f).resolve() for f in doc.get("files") or []}
    trusted = os.environ.get(TRUST) == "1"
    for command in lines(path, "commands", doc.get("commands") or []):
        if trusted:  # any command, still one line each
            line(path, "commands", str(command).replace("$", ""))
        else:
            _check_command(path, line(path, "commands", command), listed)


def _check_lines(path: Path, doc: dict) -> None:
    """pair_style, pair_coeff and pairs: one safe LAMMPS line each."""
    style = line(path, "pair_style", doc["pair_style"])
    if any(word in STYLES_REFUSED for word in style.split()):
        raise InputError(f"{path}: pair_style {style.split()[0]} runs code a file names; not in a potential file")
    for value in lines(path, "pair_coeff", doc.get("pair_coeff", [])):
        line(path, "pair_coeff", value)
    pairs = doc.get("pairs") or {}
    if not isinstance(pairs, dict) or not all(isinstance(k, str) and k.count("-") == 1 for k in pairs):
        raise InputError(f"{path}: 'pairs' must be {KEYS['pairs']}, e.g. Cu-Ni: 0.4 2.5")
    for key, value in pairs.items():
        line(path, f"pairs {key}", value)


def _check_rules(path: Path, doc: dict) -> None:
    """The lists and the style's rules, of the types mdrive reads."""
    for key in ("elements", "files", "styles"):
        words(path, key, doc.get(key) or [])
    for key, kinds in (("newton", (bool, str)), ("multi_rank", (bool,)), ("kokkos", (str,)), ("units", (str,))):
        if doc.get(key) is not None and not isinstance(doc[key], kinds):
            raise InputError(f"{path}: '{key}' must be {KEYS[key]}")
    if doc.get("newton") not in (None, True, False, "on", "off"):
        raise InputError(f"{path}: 'newton' must be on or off")
    if doc.get("units", "metal") not in UNITS:
        raise InputError(f"{path}: 'units' must be one of {', '.join(UNITS)}")


def lines(path: Path, key: str, value) -> list:
    out = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in out):
        raise InputError(f"{path}: '{key}' must be {KEYS.get(key, 'text')}")
    return out


def line(path: Path, key: str, value) -> str:
    """One LAMMPS line's text: a value that would be split into more commands, or substituted, is refused."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"{path}: '{key}' must be {KEYS.get(key.split()[0], 'text')}")
    text = str(value)
    if any(c in text for c in "\n\r\0") or text.rstrip().endswith("&"):
        raise InputError(f"{path}: '{key}' runs over more than one line; a value is one LAMMPS line")
    if "$" in text:
        raise InputError(f"{path}: '{key}' holds '$', a LAMMPS substitution that can run commands; write the value")
    return text


def words(path: Path, key: str, value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v and "\n" not in v for v in value):
        raise InputError(f"{path}: '{key}' must be {KEYS[key]}")
    return value


def _check_command(path: Path, text: str, listed: set[Path]) -> None:
    name, _, rest = text.strip().partition(" ")
    if name in READS and rest.split() and (path.parent / rest.split()[0]).resolve() in listed:
        return
    if name not in COMMANDS:
        what = "reads a file it does not list under 'files:'" if name in READS else "is not a command a potential needs"
        raise InputError(f"{path}: '{name}' in 'commands' {what}; a potential file may hold only "
                         f"{', '.join(sorted(COMMANDS))} (set {TRUST}=1 for a file you wrote yourself)")
