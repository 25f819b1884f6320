"""Potentials: `load(SPEC)` turns `--potential SPEC` into a `Potential` (see base.py).

SPEC is FAMILY:ARG (e.g. snap:W_2940_2017_2, eam/alloy:CuNi.eam.alloy, mace:model-lammps.pt), a bare
family that needs no file (lj, zbl), or a YAML file describing any other pair style.
"""
from __future__ import annotations

from pathlib import Path

from mdrive.errors import InputError
from mdrive.potentials.base import Kokkos, Potential
from mdrive.potentials.files import find_file


def load(spec: str, backend: str = "auto") -> Potential:
    """The potential a --potential SPEC names; InputError (one line) if it cannot be used.
    `backend` chooses how a MACE model runs (see mlip.mace); other families have one route."""
    from mdrive.potentials.families import FAMILIES

    if spec.endswith((".yaml", ".yml")):
        return from_yaml(spec)
    family, _, arg = spec.partition(":")
    if family not in FAMILIES:
        raise InputError(f"unknown potential '{spec}': use FAMILY:FILE with FAMILY one of "
                         f"{', '.join(FAMILIES)}, or a YAML file")
    entry = FAMILIES[family]
    if not arg and entry.needs_file:
        raise InputError(f"potential '{spec}' names no file: write {family}:FILE")
    return with_build_hints(entry.load(spec, arg, backend) if entry.takes_backend else entry.load(spec, arg))


def with_build_hints(potential: Potential) -> Potential:
    """The potential with the LAMMPS build each of its styles needs, for the refusal where the build lacks it."""
    from dataclasses import replace

    from mdrive.potentials.families import build_hint

    return replace(potential, build_hints={s: build_hint(s) for s in potential.styles})


def from_yaml(spec: str) -> Potential:
    """Any pair style: pair_style, then pair_coeff lines (with {elements} for the type-ordered names)
    and/or `pairs: {A-B: ARGS}` (pair_coeff i j ARGS for the types holding A and B), the rules, and
    `commands:` further LAMMPS lines the include ends with (pair_modify, neigh_modify...: yaml_file.py)."""
    from mdrive.potentials import yaml_file
    from mdrive.untrusted import read_yaml

    path = find_file(spec)
    doc = read_yaml(path, "a potential description (list large tables under 'files:')")
    yaml_file.check(path, doc)
    style = str(doc["pair_style"])
    coeffs = [str(c) for c in yaml_file.lines(path, "pair_coeff", doc.get("pair_coeff", []))]
    pairs = {tuple(k.split("-")): str(v) for k, v in (doc.get("pairs") or {}).items()}
    commands = [str(c) for c in doc.get("commands") or []]
    base = path.parent
    files = tuple((base / f).resolve() if not Path(f).is_absolute() else Path(f) for f in doc.get("files") or [])
    for f in files:
        if not f.is_file():
            raise InputError(f"{path}: listed file {f} does not exist")

    def lines(els):
        names = " ".join(els)
        out = [f"pair_style {style}"] + [f"pair_coeff {c}".replace("{elements}", names) for c in coeffs]
        for i, a in enumerate(els, 1):
            for j, b in enumerate(els[i - 1:], i):
                args = pairs.get((a, b), pairs.get((b, a)))
                if args is None and pairs:
                    raise InputError(f"{path}: no 'pairs' entry for {a}-{b}")
                if args is not None:
                    out.append(f"pair_coeff {i} {j} {args}")
        return out + commands

    newton = doc.get("newton")
    kokkos = doc.get("kokkos")
    return Potential(
        spec, "yaml", tuple(doc.get("styles", [style.split()[0]])), lines,
        tuple(doc["elements"]) if doc.get("elements") else None, files,
        newton={True: "on", False: "off"}.get(newton, newton),
        multi_rank=bool(doc.get("multi_rank", True)), kokkos=Kokkos() if kokkos else None,
        units=doc.get("units", "metal"))


def portable_spec(spec: str) -> str:
    """The spec with each file it names relative to the working folder made absolute, so that it names the
    same files from any folder (config.yaml, a --submit job): e.g. eam:./Cu.eam -> eam:/home/me/Cu.eam."""
    import re

    parts = re.split(r"([:?&=,])", spec)  # the words of FAMILY:ARG?key=value&..., separators kept

    def absolute(k: int, word: str) -> str:
        path = Path(word).expanduser()
        if k % 2 or (k == 0 and len(parts) > 1) or not word or path.is_absolute() or not path.is_file():
            return word  # a separator, the family, or not a file here
        return str(path.resolve())

    return "".join(absolute(k, word) for k, word in enumerate(parts))


__all__ = ["load", "Potential", "Kokkos", "portable_spec"]
