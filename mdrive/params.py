"""Parameters declared once. Each field of a Params dataclass is a `param(...)`: its dimension (hence its
unit), default, help and bounds. From that one declaration come the command-line options and their --help,
the config file (--config FILE.yaml, overridden by the command line), the resolved config.yaml every output
folder keeps (`--config OUT/config.yaml` replays the study), the manifest's parameters and --resume's check.

Units: every physical value may carry its unit (2fs, 0.002ps, 500GPa, 1bar, 2.33g/cm3); a bare number is
read in its dimension's one default unit, the same in every command (DIMENSIONS). Where reduced
Lennard-Jones units apply (--lj), values are bare or carry the reduced unit (4sigma, 0.005tau).
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

from mdrive.errors import InputError


@dataclass(frozen=True)
class Dimension:
    unit: str  # pint's name of the default unit: bare numbers are read in it
    shown: str  # how --help and config.yaml write that unit
    reduced: tuple[str, ...] | None  # unit words of reduced LJ values (() bare only; None: no LJ meaning)
    example: str


DIMENSIONS = {
    "time": Dimension("ps", "ps", ("tau", "τ"), "2fs or 0.002ps"),
    "temperature": Dimension("K", "K", (), "300K"),
    "pressure": Dimension("GPa", "GPa", (), "500GPa or 1bar"),
    "energy": Dimension("eV", "eV", ("epsilon", "ε"), "-3.2eV"),
    "length": Dimension("angstrom", "Å", ("sigma", "σ"), "2.85Å or 0.285nm"),
    "mass_density": Dimension("g/cm**3", "g/cm3", None, "2.33g/cm3"),
    "number_density": Dimension("1/angstrom**3", "1/Å3", ("sigma^-3", "σ^-3"), "0.5"),
    "force": Dimension("eV/angstrom", "eV/Å", None, "1e-4eV/Å"),
    "rate": Dimension("K/ps", "K/ps", None, "1000K/ps"),
    "fraction": Dimension("dimensionless", "", None, "0.2 or 20%"),
    "memory": Dimension("B", "B", None, "8GB, 500MB or 2GiB"),
    "walltime": Dimension("s", "s", None, "3600, 2h or 1:30:00"),
}


@dataclass(frozen=True)
class Spec:
    help: str
    kind: type
    dim: str | None = None  # a key of DIMENSIONS; None: a count, a name or a switch
    many: bool = False  # a comma-separated list
    choices: tuple = ()
    above: float | None = None  # exclusive lower bound, in the default unit
    min: float | None = None  # inclusive bounds, in the default unit
    max: float | None = None
    flag: str | None = None  # the option's name when not --field-name; "" for the positional argument
    aliases: tuple[str, ...] = ()
    replay: bool = True  # kept in config.yaml (False: switches of one invocation, like --resume)
    reduced_only: bool = False  # a value of the reduced LJ system only (--lj's density, cutoff)
    metavar: str | None = None


def param(default, help: str, kind: type | None = None, **spec):
    """A Params field: `default` in the dimension's default unit (None: chosen later, e.g. by a preset)."""
    kind = kind or (type(default) if default is not None and not isinstance(default, tuple) else float)
    return field(default=default, metadata={"mdrive": Spec(help, kind, **spec)})  # defaults are immutable


def specs(cls) -> dict[str, Spec]:
    return {f.name: f.metadata["mdrive"] for f in fields(cls) if "mdrive" in f.metadata}


def option(name: str, spec: Spec) -> str:
    return "--" + (spec.flag or name.replace("_", "-"))


# --- the command line --------------------------------------------------------------------------------


def add_options(parser, cls, defaults: dict | None = None, reduced_by: str | None = None) -> None:
    """argparse options for every field of `cls`; values stay text until `resolve` reads them with units,
    so the command line and the config file share one reader."""
    defaults = defaults or {}
    for f in fields(cls):
        spec = f.metadata.get("mdrive")
        if spec is None:
            continue
        default = defaults.get(f.name, f.default)
        text = f"{spec.help}{_unit_note(spec, reduced_by)}{_default_note(spec, default)}".replace("%", "%%")
        if spec.flag == "":
            parser.add_argument(f.name, nargs="*", default=None, help=text)
        elif spec.kind is bool:
            parser.add_argument(option(f.name, spec), *spec.aliases, dest=f.name, action="store_const", const=True,
                                default=None, help=text)
        else:
            parser.add_argument(option(f.name, spec), *spec.aliases, dest=f.name, default=None, help=text,
                                metavar=spec.metavar or _metavar(spec))


def _unit_note(spec: Spec, reduced_by: str | None) -> str:
    if spec.dim is None or not DIMENSIONS[spec.dim].shown:
        return f"; one of {', '.join(map(str, spec.choices))}" if spec.choices else ""
    d = DIMENSIONS[spec.dim]
    lj = f"reduced LJ units, bare{' or ' + d.reduced[0] if d.reduced else ''}"
    if spec.reduced_only:
        return f" [{lj}]"
    with_lj = f"; with --{reduced_by}: {lj}" if reduced_by and d.reduced is not None else ""
    return f" [{d.shown}; or with a unit, e.g. {d.example}{with_lj}]"


def _default_note(spec: Spec, default) -> str:
    if default is None or default == () or spec.kind is bool:
        return ""
    return f" (default {render_text(spec, default)})"


def _metavar(spec: Spec) -> str:
    one = (spec.dim or spec.kind.__name__).upper().replace("MASS_", "").replace("NUMBER_", "")
    return f"{one}[,{one}...]" if spec.many else one


# --- reading values ---------------------------------------------------------------------------------


def read_config(path: str | Path) -> dict:
    """A YAML config file: option names (with - or _) -> values, as on the command line."""
    from mdrive.untrusted import read_yaml

    path = Path(path)
    if not path.exists():
        raise InputError(f"--config {path}: cannot read it (No such file or directory)")
    try:
        doc = read_yaml(path, "an mdrive config file")
    except InputError as err:
        raise InputError(f"--config {err}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InputError(f"--config {path}: write a mapping of options to values, e.g. 'timestep: 2fs'")
    return {str(k).replace("-", "_"): v for k, v in doc.items()}


def resolve(classes: list[type], given: dict, config: dict, reduced_by: str | None = None,
            presets: dict | None = None) -> list:
    """Instances of `classes` from defaults, then a preset's, then the config file, then the command line
    (`given`: None where not given). `reduced_by` names a switch that puts values in reduced LJ units."""
    names = {n: s for cls in classes for n, s in specs(cls).items()}
    unknown = sorted(set(config) - set(names))
    if unknown:
        near = difflib.get_close_matches(unknown[0], list(names), 1)
        hint = f"; did you mean '{near[0]}'?" if near else f"; known: {', '.join(sorted(names))}"
        raise InputError(f"--config: unknown option '{unknown[0]}'{hint}")
    # argparse gives [] for an absent positional list: not given, so the config's list stands
    merged = {**config, **{k: v for k, v in given.items() if k in names and v is not None and v != []}}
    preset = (presets or {}).get(merged.get("preset") or _field_default(classes, "preset"), {})
    reduced = bool(merged.get(reduced_by)) if reduced_by else False
    out = []
    for cls in classes:
        values = {}
        for f in fields(cls):
            spec = f.metadata.get("mdrive")
            if spec is None:
                continue
            if f.name in merged and merged[f.name] is not None:
                values[f.name] = convert(f.name, spec, merged[f.name], reduced)
            elif f.name in preset:
                values[f.name] = preset[f.name]
        out.append(cls(**values))
    return out


def _field_default(classes, name):
    for cls in classes:
        for f in fields(cls):
            if f.name == name:
                return f.default
    return None


def convert(name: str, spec: Spec, value, reduced: bool = False):
    """One option's value from its text (or a YAML number/list), checked against the declaration."""
    reduced = reduced or spec.reduced_only
    if spec.many or spec.flag == "":
        if isinstance(value, (list, tuple)) and not value:
            return ()
        items = value if isinstance(value, (list, tuple)) else [v for v in str(value).split(",")]
        if spec.flag != "" and any(str(v).strip() == "" for v in items):
            raise InputError(f"{option(name, spec)} '{value}': give a comma-separated list of values")
        return tuple(_one(name, spec, v, reduced) for v in items)
    return _one(name, spec, value, reduced)


def _one(name: str, spec: Spec, value, reduced: bool):
    where = option(name, spec) if spec.flag != "" else name
    if spec.kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "yes", "1", "false", "no", "0"):
            return str(value).lower() in ("true", "yes", "1")
        raise InputError(f"{where} '{value}': write true or false")
    if spec.kind is str:
        text = str(value).strip()
        if spec.choices and text not in spec.choices:
            raise InputError(f"{where} '{text}': choose one of {', '.join(spec.choices)}")
        if not text:
            raise InputError(f"{where} is empty; give a value or leave the option out")
        return text
    number = _number(where, spec, value, reduced)
    if spec.kind is int:
        if number != int(number):
            raise InputError(f"{where} {value}: give a whole number")
        number = int(number)
    _check_bounds(where, spec, number, reduced)
    if spec.choices and number not in spec.choices:
        raise InputError(f"{where} {value}: choose one of {', '.join(map(str, spec.choices))}")
    return number


def _number(where: str, spec: Spec, value, reduced: bool) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            number = _with_unit(where, spec, text, reduced)
    if not math.isfinite(number):
        raise InputError(f"{where} {value}: give a finite number")
    return number


def _with_unit(where: str, spec: Spec, text: str, reduced: bool) -> float:
    d = DIMENSIONS.get(spec.dim) if spec.dim else None
    if d is None:
        raise InputError(f"{where} '{text}' is not a number")
    if spec.dim == "walltime" and re.fullmatch(r"[0-9.]+(:[0-9.]+){1,2}", text):
        try:
            parts = [float(x) for x in text.split(":")]
        except ValueError:
            parts = [-1.0]
        if not all(0 <= v < 60 for v in parts[1:]) or not all(math.isfinite(v) and v >= 0 for v in parts):
            raise InputError(f"{where} '{text}' is not a walltime: write H:MM:SS or MM:SS with minutes and seconds "
                             f"below 60, e.g. 1:30:00")
        return sum(v * 60 ** k for k, v in enumerate(reversed(parts)))
    if reduced and d.reduced is not None:
        words = "|".join(re.escape(w) for w in d.reduced)
        m = re.fullmatch(rf"([-+0-9.eE]+)\s*({words})?", text)
        if m and words:
            try:
                return float(m.group(1))
            except ValueError:
                pass
        unit = f" or with its unit ({d.reduced[0]})" if d.reduced else ""
        raise InputError(f"{where} '{text}': --lj runs in reduced Lennard-Jones units; give a bare number{unit}")
    return _pint_value(where, d, spec.dim, text)


def _pint_value(where: str, d: Dimension, dim: str, text: str) -> float:
    try:
        q = _quantity(text)
    except ValueError:
        why = "is not a number with a unit"
    else:
        if q.check(_registry()(d.unit).dimensionality):
            return float(q.to(d.unit).magnitude)
        why = f"is not a {dim.replace('_', ' ')}"
    raise InputError(f"{where} '{text}' {why}; write e.g. {d.example} (a bare number is {d.shown or 'a fraction'})")


def measure(text: str, dims: tuple[str, ...]) -> tuple[str, float]:
    """(dimension, value in its default unit) of a value that must carry its unit, one of `dims`;
    ValueError when it is none of them."""
    q = _quantity(text)
    for dim in dims:
        if not q.dimensionless and q.check(_registry()(DIMENSIONS[dim].unit).dimensionality):
            return dim, float(q.to(DIMENSIONS[dim].unit).magnitude)
    raise ValueError(text)


def _quantity(text: str):
    """pint's reading of a value with its unit (g/cm3 spelled g/cm**3); ValueError when it cannot read it."""
    ureg = _registry()
    try:
        q = ureg.Quantity(re.sub(r"(?<=[A-Za-zÅ])([23])\b", r"**\1", text.strip()))
    except Exception:  # pint raises many types for text it cannot read
        raise ValueError(text) from None
    if not isinstance(q, ureg.Quantity):
        raise ValueError(text)
    return q


@cache
def _registry():
    import pint

    try:  # pint's own cache of its parsed definitions (~/.cache/pint): 0.05 s instead of 0.4 s per start
        return pint.UnitRegistry(cache_folder=":auto:")
    except Exception:  # an unwritable cache is no reason to fail
        return pint.UnitRegistry()


def _check_bounds(where: str, spec: Spec, number: float, reduced: bool) -> None:
    unit = DIMENSIONS[spec.dim].shown if spec.dim and not reduced else ""
    above, low, high = spec.above, spec.min, spec.max
    if reduced and spec.dim and DIMENSIONS[spec.dim].reduced is not None:  # physical bounds mean nothing here;
        above = 0 if above is not None and above >= 0 else None          # the sign still does
        low, high = (0 if low is not None and low >= 0 else None), None
    bad = (above is not None and number <= above) or (low is not None and number < low) or \
        (high is not None and number > high)
    if bad:
        u = f" {unit}" if unit else ""
        parts = [f"{word} {bound:.15g}{u}" for word, bound in (("above", above), ("at least", low), ("at most", high))
                 if bound is not None]
        raise InputError(f"{where} {number:g}{u} is out of range: it must be {' and '.join(parts)}")


# --- writing values back -----------------------------------------------------------------------------


def render_text(spec: Spec, value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(render_text(spec, v) for v in value)
    if spec.dim and not spec.reduced_only and isinstance(value, (int, float)) and not isinstance(value, bool):
        shown = DIMENSIONS[spec.dim].shown
        return f"{value:.15g}{(' ' + shown) if shown else ''}"
    return str(value)


def as_config(*instances, reduced: bool = False) -> dict:
    """The replayable values of `instances` for config.yaml and the manifest: numbers with their unit."""
    out = {}
    for obj in instances:
        for name, spec in specs(type(obj)).items():
            if not spec.replay:
                continue
            value = getattr(obj, name)
            bare = value is None or not spec.dim or spec.reduced_only or \
                (reduced and DIMENSIONS[spec.dim].reduced is not None)  # no unit to write
            items = value if isinstance(value, tuple) else (value,)
            items = list(items) if bare else [render_text(spec, v) for v in items]
            out[name] = items if isinstance(value, tuple) else items[0]
    return out
