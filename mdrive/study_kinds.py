"""Every kind of study folder mdrive writes, declared once: its name, the files its summary writes, the typed
headline it records and the leaderboard numbers it contributes, and how its batch jobs are followed and
cancelled. `compare`, `report`, `status`, `cancel` and `--overwrite` read a folder only through its kind
(`of_folder`), so no protocol's keys or file names are spelled outside its own module. A protocol
(mdrive.protocol.Protocol) is a kind that also runs; a scaling study (mdrive.protocols.scaling) is one
that runs plain `lmp`. Kinds outside mdrive join with `register`.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mdrive.errors import InputError

# name -> the module whose KIND declares it: protocols (one generated command each, mdrive.commands), then kinds
# with a command module of their own
PROTOCOLS = {"ramp": "mdrive.protocols.ramp", "evscan": "mdrive.protocols.evscan",
             "meltquench": "mdrive.protocols.meltquench", "widom": "mdrive.protocols.widom",
             "gcmc": "mdrive.protocols.gcmc"}
BUILT_IN = {**PROTOCOLS, "scaling": "mdrive.protocols.scaling"}
FORMER_NAMES = {"scaling plan": "scaling"}  # manifest commands of earlier versions
_registered: dict[str, StudyKind] = {}


@dataclass(frozen=True)
class Metric:
    """One number a kind contributes to the leaderboard."""

    column: str  # the leaderboard's column, unique over all kinds
    header: str  # its heading in the report, unit included
    better: str | None = None  # "higher" or "lower": ranked; None: shown only
    rides_in: str | None = None  # the HTML page shows it inside this column's cell (run counts beside an AUC)


class StudyKind(ABC):
    """What a folder of this kind holds and contributes; the base of every protocol."""

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]]  # the files its summary writes directly inside the folder
    headline: ClassVar[object] = None  # the type of manifest["headline"] (a TypedDict, or a dict of them)
    metrics: ClassVar[tuple[Metric, ...]] = ()
    runs: ClassVar[bool] = False  # a protocol: mdrive runs it (its command, report); else it runs elsewhere

    def scores(self, headline: Mapping, parameters: Mapping) -> dict[str, float | None]:
        """The leaderboard numbers of one folder (columns of `metrics`) from its recorded headline, which is
        untrusted input: a value of the wrong type reads as missing."""
        return {}

    def speed_points(self, folder: Path, manifest: Mapping):
        """(atoms, steps_per_s) of one-rank runs as a pandas DataFrame, or None: the speed fit's points."""
        return None

    def figures(self) -> tuple[tuple[str, Callable], ...]:
        """(title, draw(folders, labels) -> svg or None) of the comparison's figures of this kind."""
        return ()

    @abstractmethod
    def status(self, folder: Path) -> list[str]:
        """`mdrive status`: the study's progress and its batch jobs' states, one line each."""

    @abstractmethod
    def cancel(self, folder: Path) -> list[str]:
        """`mdrive cancel`: cancel the study's jobs that have not ended; what was done, one line each."""


def register(kind: StudyKind) -> None:
    """A kind from outside mdrive (a module of your own): its folders join compare, report and status."""
    if not isinstance(kind, StudyKind):
        raise TypeError(f"{kind!r} is not a StudyKind")
    taken = {m.column: k.name for k in every() if k.name != kind.name for m in k.metrics}
    clash = next((m.column for m in kind.metrics if m.column in taken), None)
    if clash:
        raise ValueError(f"{kind.name}: leaderboard column '{clash}' is {taken[clash]}'s; name it apart")
    _registered[kind.name] = kind


def registered_protocols() -> list[str]:
    """The names of registered kinds that run as protocols (each gets its command)."""
    return [n for n, kind in _registered.items() if kind.runs and n not in PROTOCOLS]


def names() -> list[str]:
    return [*BUILT_IN, *(n for n in _registered if n not in BUILT_IN)]


def get(name: str) -> StudyKind:
    name = FORMER_NAMES.get(name, name)
    if name in _registered:
        return _registered[name]
    if name not in BUILT_IN:
        raise InputError(f"'{name}' is not a kind of study mdrive knows; one of {', '.join(names())}")
    return importlib.import_module(BUILT_IN[name]).KIND


def every() -> list[StudyKind]:
    return [get(n) for n in names()]


def of_folder(folder: Path, manifest: Mapping | None = None) -> StudyKind:
    """The kind of a study folder, from its manifest's command (refused in one line if it names none)."""
    if manifest is None:
        from mdrive.manifest import read_manifest

        manifest = read_manifest(folder)
    command = manifest.get("command")
    if not isinstance(command, str) or FORMER_NAMES.get(command, command) not in names():
        raise InputError(f"{folder}: its manifest names command '{command}', not a kind of study mdrive writes "
                         f"({', '.join(names())})")
    return get(command)


def all_outputs() -> set[str]:
    """Every file name any kind's summary writes: what `--overwrite` may remove from a folder whose manifest
    predates the list of its own outputs."""
    return {name for kind in every() for name in kind.outputs}
