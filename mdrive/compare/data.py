"""What `mdrive compare` reads from output folders: which potential each folder ran, each kind's numbers as its
own declaration reads them from the folder (mdrive.study_kinds: headline scores, speed points), the leaderboard
built from them, and the parameters that differ between folders of one protocol."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mdrive import study_kinds
from mdrive.errors import InputError
from mdrive.study_kinds import Metric, StudyKind

SPEED_AT = (100, 1000)
# the speed fit's numbers, from any kind's speed points (MLIP Arena ranks the exponent)
SPEED = (Metric("steps_per_s_100", "steps/s @100"), Metric("steps_per_s_1000", "steps/s @1000"),
         Metric("speed_exponent", "n (steps/s ∝ N^-n)", better="lower"))


@dataclass
class Folder:
    path: Path
    kind: StudyKind
    label: str  # the potential's name in the report (one per spec + file hashes)
    manifest: dict
    parameters: dict = field(default_factory=dict)


def metrics() -> list[tuple[Metric, StudyKind | None]]:
    """Every leaderboard column with the kind it belongs to (None: the speed fit's, of every kind)."""
    return [(m, kind) for kind in study_kinds.every() for m in kind.metrics] + [(m, None) for m in SPEED]


def potential_key(manifest: dict) -> tuple[str, str]:
    """(spec, key): the spec and a short digest of its files' hashes, so a retrained file is another potential."""
    potential = manifest.get("potential") or {}
    spec = potential.get("spec") or "unknown"
    files = potential.get("files") or {}
    digest = hashlib.sha256(json.dumps(sorted(files.values())).encode()).hexdigest()[:10]
    return spec, f"{spec}#{digest}"


def read_folders(paths: list[Path], labels: dict[str, str]) -> list[Folder]:
    """Every folder's manifest, checked; `labels` renames potentials (by spec or by their default label)."""
    from mdrive.manifest import read_manifest

    folders, keys_of_spec, used = [], {}, set()
    for path in paths:
        if not (path / "manifest.json").is_file():
            raise InputError(f"{path} is not an mdrive output folder (no manifest.json); give folders that "
                             f"{', '.join(study_kinds.names())} wrote")
        manifest = read_manifest(path)
        kind = study_kinds.of_folder(path, manifest)
        _check_shape(path, manifest)
        spec, key = potential_key(manifest)
        keys = keys_of_spec.setdefault(spec, [])
        if key not in keys:
            keys.append(key)
        default = spec if keys.index(key) == 0 else f"{spec} ({keys.index(key) + 1})"  # same spec, other files
        name = default if default in labels else spec if spec in labels else None
        used.add(name)
        label = labels.get(name, default)
        folders.append(Folder(path, kind, label, manifest, manifest.get("parameters") or {}))
    _check_one_each(folders)
    unused = sorted(set(labels) - used)
    if unused:
        raise InputError(f"--label {unused[0]}=...: no compared folder ran the potential {unused[0]}")
    return folders


def _check_shape(path: Path, manifest: dict) -> None:
    """The manifest fields compare reads, of the types mdrive writes (a manifest from elsewhere is untrusted)."""
    potential = manifest.get("potential") or {}
    fields = {"potential": potential, "headline": manifest.get("headline") or {},
              "parameters": manifest.get("parameters") or {}, "potential files": potential.get("files") or {}
              if isinstance(potential, dict) else None}
    wrong = next((k for k, v in fields.items() if not isinstance(v, dict)), None)
    if wrong is None and not all(isinstance(v, dict | int | float | str | type(None))
                                 for v in fields["headline"].values()):
        wrong = "headline"
    if wrong is not None:
        raise InputError(f"{path}/manifest.json: its {wrong} is not what mdrive writes; restore it or drop the folder")


def _check_one_each(folders: list[Folder]) -> None:
    """One folder per potential and protocol: a leaderboard cell is one study's number, never one chosen by
    argument order (runs of two studies do not pool into one headline: run them as one study)."""
    seen: dict[tuple[str, str], Path] = {}
    for f in folders:
        first = seen.setdefault((f.label, f.kind.name), f.path)
        if first is not f.path:
            raise InputError(f"{f.path} is given twice" if first.resolve() == f.path.resolve() else
                             f"{first} and {f.path} both hold {f.kind.name} results of {f.label}: compare one "
                             f"folder per potential and protocol (run their structures as one study)")


def mismatches(folders: list[Folder]) -> list[tuple[str, str]]:
    """(protocol, warning) for each parameter that differs between folders of the same protocol: that
    protocol's metrics are shown but not ranked."""
    out = []
    by_command: dict[str, list[Folder]] = {}
    for f in folders:
        by_command.setdefault(f.kind.name, []).append(f)
    for command, group in by_command.items():
        for key in sorted({k for f in group for k in f.parameters}):
            values: dict[str, list[str]] = {}
            for f in group:
                values.setdefault(json.dumps(f.parameters.get(key)), []).append(f.label)
            if len(values) > 1:
                said = "; ".join(f"{json.loads(v)} ({', '.join(labels)})" for v, labels in values.items())
                out.append((command, f"{command}: {key} differs between folders: {said}"))
    return out


def speed_points(f: Folder) -> pd.DataFrame:
    """(atoms, steps/s) of one-rank runs: a ramp's runs that reported a rate, a scaling study's 1-rank points;
    none from a table that is not what mdrive writes."""
    try:
        return _speed_points(f)
    except (OSError, ValueError, KeyError, TypeError, pd.errors.ParserError):
        return pd.DataFrame(columns=["atoms", "steps_per_s"])


def _speed_points(f: Folder) -> pd.DataFrame:
    points = f.kind.speed_points(f.path, f.manifest)
    return pd.DataFrame(columns=["atoms", "steps_per_s"]) if points is None else points


def speed_fit(points: pd.DataFrame) -> dict:
    """steps/s ∝ N^-n fitted on log–log axes (MLIP Arena's speed exponent) and its value at ~100 and ~1000
    atoms; with one size only, that size's median rate where it is within 2x of 100 or 1000 atoms."""
    if points.empty:
        return {}
    by_size = points.groupby("atoms")["steps_per_s"].median()
    out = {}
    if len(by_size) >= 2:
        slope, intercept = np.polyfit(np.log(by_size.index.to_numpy(float)), np.log(by_size.to_numpy(float)), 1)
        out["speed_exponent"] = round(float(-slope), 3)
        for n in SPEED_AT:
            out[f"steps_per_s_{n}"] = round(float(np.exp(intercept) * n ** slope), 4)
        out["speed_fit"] = (float(slope), float(intercept))
    else:
        atoms, rate = float(by_size.index[0]), float(by_size.iloc[0])
        for n in SPEED_AT:
            if n / 2 <= atoms <= 2 * n:
                out[f"steps_per_s_{n}"] = round(rate, 4)
    return out


# --- the leaderboard ---------------------------------------------------------------------------------


def leaderboard(folders: list[Folder], unlike: set[str]) -> pd.DataFrame:
    """One row per potential: every protocol's numbers (NaN where it was not run), speed, and the rank (mean
    of the per-metric ranks over the ranked metrics it has; metrics of unlike folders are not ranked)."""
    rows: dict[str, dict] = {}
    speeds: dict[str, list] = {}
    for f in folders:
        row = rows.setdefault(f.label, {"potential": f.label, "spec": potential_key(f.manifest)[0]})
        for name, value in f.kind.scores(f.manifest.get("headline") or {}, f.parameters).items():
            row.setdefault(name, value)  # the first folder of a protocol counts; mismatches() says if they differ
        speeds.setdefault(f.label, []).append(speed_points(f))
    for label, frames in speeds.items():
        fit = speed_fit(pd.concat(frames, ignore_index=True))
        fit.pop("speed_fit", None)
        rows[label].update(fit)
    table = pd.DataFrame(list(rows.values()))
    table["rank"] = np.nan
    ranks = []
    for metric, kind in metrics():
        column = metric.column
        ranked = metric.better is not None and (kind is None or kind.name not in unlike)
        if ranked and column in table and table[column].notna().any():
            ranks.append(table[column].rank(ascending=metric.better == "lower", method="min"))
    if ranks:
        mean = pd.concat(ranks, axis=1).mean(axis=1)
        table["rank"] = mean.rank(method="min")
    return table.sort_values(["rank", "potential"], na_position="last").reset_index(drop=True)


def markdown(table: pd.DataFrame, columns: dict[str, str]) -> str:
    """The leaderboard as a Markdown table (written here: pandas' to_markdown needs tabulate for one call)."""
    shown = [c for c in columns if c in table]
    lines = ["| " + " | ".join(columns[c] for c in shown) + " |", "|" + "---|" * len(shown)]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_md(cell(row.get(c))) for c in shown) + " |")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """A Markdown table cell: a `|` in a label would start another column, a newline another row."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def cell(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
