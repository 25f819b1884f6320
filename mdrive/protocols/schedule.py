"""Temperature/pressure schedules: a list of stages, each a hold, a ramp or a minimisation.

Written on the command line as comma-separated stages, fields separated by ':'::

    nvt:8000K:3ps, nvt:8000K->300K@1000K/ps, min
    npt:1400K->300K@1K/ps:0GPa:dt=1fs, min:0GPa, nvt:9000K:40ps:pot=tersoff:SiC.tersoff

ENSEMBLE is nvt, npt, nve or min. Fields: a temperature `300K` or ramp `8000K->300K`; a duration `3ps`,
`500fs`, `1ns` or, for a ramp, a rate `@1000K/ps`; a pressure `0GPa`, `1bar` or `0GPa->10GPa` (npt; on min
it relaxes the cell to that pressure); a timestep `dt=0.5fs`; and last, a potential for this stage only,
`pot=SPEC`. Units are read by mdrive.params (any unit pint knows: 1ns, 300K, 1e4bar). The YAML form is a
list of such strings, or of mappings with keys ensemble, temp ([start, stop]), duration, rate, pressure
([start, stop]), dt and potential, each a value with its unit or a bare number in mdrive's default unit
(K, ps, K/ps, GPa).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mdrive.errors import InputError
from mdrive.params import DIMENSIONS, measure
from mdrive.protocols.md import MAX_TIMESTEP_PS

ENSEMBLES = ("nvt", "npt", "nve", "min")
# what a field's unit says it is (mdrive.params reads it: one unit system for options and schedules)
FIELDS = {"temperature": "temp", "time": "duration", "pressure": "pressure"}
MAX_STAGE_PS = 1e6


@dataclass(frozen=True)
class Stage:
    ensemble: str
    t_start: float | None = None  # K
    t_stop: float | None = None  # K
    duration: float | None = None  # ps
    p_start: float | None = None  # GPa
    p_stop: float | None = None  # GPa
    dt: float | None = None  # ps; None: the schedule's default
    potential: str | None = None  # spec of a potential for this stage only

    @property
    def is_md(self) -> bool:
        return self.ensemble != "min"

    def steps(self, default_dt: float) -> int:
        return max(1, round(self.duration / (self.dt or default_dt))) if self.is_md else 0

    def text(self) -> str:
        """The stage in the command-line syntax (canonical form, recorded in the manifest)."""
        fields = [self.ensemble]
        if self.t_start is not None:
            fields.append(f"{self.t_start:g}K" + (f"->{self.t_stop:g}K" if self.t_stop != self.t_start else ""))
        if self.duration is not None:
            fields.append(f"{self.duration:g}ps")
        if self.p_start is not None:
            fields.append(f"{self.p_start:g}GPa" + (f"->{self.p_stop:g}GPa" if self.p_stop != self.p_start else ""))
        if self.dt is not None:
            fields.append(f"dt={self.dt * 1000:g}fs")
        if self.potential:
            fields.append(f"pot={self.potential}")
        return ":".join(fields)


def parse(text: str) -> list[Stage]:
    """Stages of a schedule string, or of a YAML file when `text` names one."""
    if text.strip().endswith((".yaml", ".yml")):
        return _from_yaml(Path(text.strip()))
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise InputError("--schedule is empty; e.g. --schedule 'nvt:3000K:2ps, nvt:3000K->300K@100K/ps, min'")
    return [parse_stage(p, k + 1) for k, p in enumerate(parts)]


def parse_stage(text: str, number: int) -> Stage:
    def broken(why: str) -> InputError:
        return InputError(f"--schedule stage {number} '{text}': {why}")

    if not text:
        raise broken("is empty (two commas in a row, or one at the end?)")
    fields = _split(text)
    ensemble = fields[0].strip().lower()
    if ensemble not in ENSEMBLES:
        raise broken(f"starts with '{fields[0]}'; a stage starts with one of {', '.join(ENSEMBLES)}")
    values, rate = _values(fields[1:], broken)
    if rate is not None and "duration" in values:
        raise broken("give a duration or a rate, not both")
    if "temp" in values:
        values["t_start"], values["t_stop"] = values.pop("temp")
    if "pressure" in values:
        values["p_start"], values["p_stop"] = values.pop("pressure")
    if rate is not None:
        if rate <= 0 or values["t_start"] == values["t_stop"]:
            raise broken("a rate @R K/ps needs a ramp T1K->T2K and R > 0")
        values["duration"] = abs(values["t_stop"] - values["t_start"]) / rate
    return _checked(Stage(ensemble, **values), broken)


def _split(text: str) -> list[str]:
    """A stage's fields; pot= takes the rest: potential specs hold ':' themselves."""
    fields = text.split(":")
    for k, f in enumerate(fields):
        if f.startswith("pot="):
            return fields[:k] + [":".join(fields[k:])]
    return fields


def _values(fields: list[str], broken) -> tuple[dict, float | None]:
    """The stage's values by key, each given once, and the cooling or heating rate if one was given."""
    values, rate = {}, None
    for field in (f.strip() for f in fields):
        key, value = _field(field, broken)
        if key == "temp_rate":  # the rate rides on the temperature field: 8000K->300K@1000K/ps
            key, (value, rate) = "temp", value
        if key in values:
            raise broken(f"'{field}' gives a second {key}")
        values[key] = value
    return values, rate


def _field(field: str, broken) -> tuple[str, object]:
    if field.startswith("pot="):
        if not field[4:]:
            raise broken("pot= names no potential")
        return "potential", field[4:]
    try:
        if field.startswith("dt="):
            return "dt", measure(field[3:], ("time",))[1]
        values, _, rate = field.partition("@")
        first, arrow, second = values.partition("->")
        dim, start = measure(first, tuple(FIELDS))
        stop = measure(second, (dim,))[1] if arrow else start
        if rate:
            if dim != "temperature":
                raise ValueError
            return "temp_rate", ((start, stop), measure(rate, ("rate",))[1])
        if arrow and dim == "time":
            raise ValueError
        return FIELDS[dim], start if dim == "time" else (start, stop)
    except ValueError:
        raise broken(f"cannot read '{field}': expected a temperature (300K, 8000K->300K, 8000K->300K@1000K/ps), "
                     f"a duration (3ps, 500fs), a pressure (0GPa, 1bar), dt=1fs or pot=SPEC") from None


def _checked(stage: Stage, broken) -> Stage:
    e = stage.ensemble
    if e in ("nvt", "npt") and stage.t_start is None:
        raise broken(f"{e} needs a temperature, e.g. {e}:300K:10ps")
    if e in ("nve", "min") and stage.t_start is not None:
        raise broken(f"{e} takes no temperature")
    if stage.is_md and stage.duration is None:
        raise broken("needs a duration (e.g. 3ps) or, for a ramp, a rate (e.g. @1000K/ps)")
    if not stage.is_md and stage.duration is not None:
        raise broken("a minimisation takes no duration")
    if stage.duration is not None and stage.duration <= 0:
        raise broken("the duration must be positive")
    if stage.t_start is not None and min(stage.t_start, stage.t_stop) <= 0:
        raise broken("temperatures must be positive")
    if stage.p_start is not None and e not in ("npt", "min"):
        raise broken(f"{e} holds the cell fixed and takes no pressure; use npt")
    if stage.dt is not None and (not 0 < stage.dt <= MAX_TIMESTEP_PS or not stage.is_md):
        raise broken(f"dt must be positive and at most {MAX_TIMESTEP_PS * 1000:g} fs, and only MD stages have one")
    if stage.duration is not None and stage.duration > MAX_STAGE_PS:
        raise broken(f"{stage.duration:g} ps is longer than any MD run ({MAX_STAGE_PS:g} ps = 1 µs at most)")
    if e == "npt" and stage.p_start is None:
        stage = replace(stage, p_start=0.0, p_stop=0.0)
    return stage


def _from_yaml(path: Path) -> list[Stage]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"--schedule {path}: cannot read it as YAML ({type(err).__name__})") from None
    items = data.get("stages") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise InputError(f"--schedule {path}: expected a list of stages (or a mapping with 'stages:')")
    return [parse_stage(item if isinstance(item, str) else _mapping_text(item, k + 1, path), k + 1)
            for k, item in enumerate(items)]


def _mapping_text(item, number: int, path: Path) -> str:
    """A YAML mapping stage in the command-line syntax, so both forms share one parser."""
    keys = {"ensemble", "temp", "duration", "rate", "pressure", "dt", "potential"}
    if not isinstance(item, dict) or "ensemble" not in item or set(item) - keys:
        raise InputError(f"--schedule {path} stage {number}: a mapping with keys {', '.join(sorted(keys))} "
                         f"(ensemble required), or a string like 'nvt:300K:10ps'")

    def unit(value, dim):  # a bare number is in the dimension's default unit, as everywhere in mdrive
        return f"{value}{DIMENSIONS[dim].unit}" if isinstance(value, (int, float)) else str(value)

    def pair(value, dim):
        a, b = (value, value) if not isinstance(value, list) else (value + value)[:2]
        return unit(a, dim) + (f"->{unit(b, dim)}" if b != a else "")

    fields = [str(item["ensemble"])]
    if "temp" in item:
        fields.append(pair(item["temp"], "temperature") + (f"@{unit(item['rate'], 'rate')}" if "rate" in item else ""))
    if "duration" in item:
        fields.append(unit(item["duration"], "time"))
    if "pressure" in item:
        fields.append(pair(item["pressure"], "pressure"))
    if "dt" in item:
        fields.append(f"dt={unit(item['dt'], 'time')}")
    if "potential" in item:
        fields.append(f"pot={item['potential']}")
    return ":".join(fields)
