"""The one interface every protocol implements (the shape of ASE's CalculatorTemplate and janus-core's
calculations): typed Params, `plan(params, run) -> Study` (its jobs and inputs), `analyze(run_dir, info, error)`
(one run's verdict: status and cause), `summarize(out, rows, params) -> (text, headline)`, and, as every kind
of study folder (mdrive.study_kinds), its output files, typed headline and leaderboard metrics. The command
line, the config file, the manifest, --resume and `report` are generated from it (mdrive.commands, mdrive.driver).
"""
from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from mdrive import study_kinds
from mdrive.errors import InputError
from mdrive.params import param
from mdrive.potentials.base import BACKENDS
from mdrive.scheduler import LAUNCHERS, SCHEDULERS
from mdrive.study_kinds import PROTOCOLS, StudyKind  # noqa: F401  (PROTOCOLS: the names, declared there)

# measured: Python, mpi4py and liblammps take ~64 MB resident; BLAS buffers and imports want more room
MIN_MEMORY_PER_RANK = 256e6


@dataclass(frozen=True)
class RunOptions:
    """What every protocol command shares: inputs, MPI groups, output folder, budgets."""

    structures: tuple[str, ...] = param((), "structure files or folders (any ASE format)", str, flag="")
    potential: str | None = param(None, "FAMILY:FILE (snap:W_2940_2017_2, eam/alloy:CuNi.eam.alloy, "
                                  "mace:m.model-lammps.pt, sevennet:7net-0, chgnet:0.3.0, ...), lj, zbl, or a YAML "
                                  "file", str, metavar="SPEC")
    backend: str = param("auto", "how an MLIP (mace:, sevennet:, nequip:, allegro:, pace:) runs: its pair style "
                         "(native, or mdrive's plugin of it) or the ASE bridge; auto: the pair style when the "
                         "build or a built plugin has it, else the bridge",
                         choices=BACKENDS)
    ranks_per_run: int = param(1, "MPI ranks per LAMMPS run; the world is split into groups of K ranks", min=1,
                               metavar="K")
    gpus: int = param(0, "GPUs per run (Kokkos, one MPI rank per GPU), checked against the build; 0: CPU", min=0,
                      metavar="N")
    memory_per_run: float | None = param(None, "memory budget of one run, all its ranks together; a run past it "
                                         "fails alone (default: 80% of the node's available memory shared by "
                                         "the runs on it)", dim="memory", min=1e7, max=2.0 ** 62, metavar="SIZE")
    time_limit: float | None = param(None, "wall-time budget; runs still going then end as censored, resumable",
                                     dim="walltime", above=0, replay=False, metavar="TIME")
    out: str | None = param(None, "output folder", str, replay=False, metavar="DIR")
    resume: bool = param(False, "keep finished runs in --out, redo only the rest", replay=False)
    retry_failed: bool = param(False, "with --resume: run again the runs whose verdict is 'error' (crashes, "
                               "set-up errors)", replay=False)
    overwrite: bool = param(False, "replace mdrive's results in --out (refused for a folder holding anything "
                            "else)", replay=False)
    config: str | None = param(None, "a YAML file of these options (name: value); options given here override "
                               "it; OUT/config.yaml replays a study", str, replay=False, metavar="FILE.yaml")
    # a batch job instead of a run here (mdrive.submit): switches of the submission, not of the science
    submit: str | None = param(None, "run the study as batch jobs of this scheduler (through PSI/J) instead of "
                               "here; `mdrive status OUT` follows them, `mdrive cancel OUT` stops them", str,
                               choices=SCHEDULERS, replay=False, metavar="SCHEDULER")
    # None where not given (their defaults are mdrive.submit's), so that one given without --submit is refused
    ranks: int | None = param(None, "with --submit: MPI ranks of each job (default 1)", int, min=1, max=10 ** 7,
                              replay=False, metavar="N")
    nodes: int | None = param(None, "with --submit: nodes of each job (default: the scheduler places the ranks)",
                              int, min=1, max=10 ** 6, replay=False, metavar="N")
    job_time: float | None = param(None, "with --submit: wall time of each job (default 1 h); the study stops "
                                   "cleanly before it and a follow-up job continues it", dim="walltime", min=30,
                                   max=1e7, replay=False, metavar="TIME")
    queue: str | None = param(None, "with --submit: the queue (partition)", str, replay=False)
    account: str | None = param(None, "with --submit: the account charged", str, replay=False)
    max_jobs: int | None = param(None, "with --submit: most jobs the study may take (default 10)", int, min=1,
                                 max=1000, replay=False)
    launcher: str | None = param(None, "with --submit: how a job starts its MPI ranks (default mpirun)", str,
                                 choices=LAUNCHERS, replay=False)

    def check(self) -> None:
        from mdrive import submit

        submit.check(self)
        if self.retry_failed and not self.resume:
            raise InputError("--retry-failed continues a study: use it with --resume")
        if self.memory_per_run and self.memory_per_run / self.ranks_per_run < MIN_MEMORY_PER_RANK:
            raise InputError(f"--memory-per-run {self.memory_per_run / 1e6:.0f} MB leaves a run's rank less than "
                             f"the {MIN_MEMORY_PER_RANK / 1e6:.0f} MB its process needs to start (Python, MPI, "
                             f"LAMMPS); give at least {MIN_MEMORY_PER_RANK * self.ranks_per_run / 1e6:.0f} MB")

    def load_potential(self, example: str, default: str | None = None):
        """The --potential (or `default`); refused with an example when neither is there."""
        from mdrive import potentials

        if not (self.potential or default):
            raise InputError(f"--potential is required (e.g. --potential {example})")
        return potentials.load(self.potential or default, self.backend)


@dataclass
class Study:
    """What a protocol's plan gives the driver: its jobs and every input they read (for provenance)."""

    jobs: list
    potential: object = None
    structures: list = field(default_factory=list)
    stage_potentials: list = field(default_factory=list)  # potentials some stages switch to
    provenance: dict = field(default_factory=dict)  # further manifest entries (e.g. the MC guard's verdict)


class Protocol(StudyKind):
    """A protocol: its typed Params, its plan, one run's verdict and the summary of all of them. The command
    line, config file, manifest, --resume and `report` are generated from this declaration."""

    help: ClassVar[str]  # one line for `mdrive --help`
    description: ClassVar[str]  # the command's --help text
    params: ClassVar[type]  # a frozen dataclass of param() fields, with check()
    reduced_by: ClassVar[str | None] = None  # the switch that puts values in reduced LJ units (--lj)
    presets: ClassVar[Mapping[str, dict]] = {}  # preset name -> field defaults it changes
    runs = True

    @abstractmethod
    def plan(self, params, run: RunOptions) -> Study:
        """The study's jobs and every input they read; bad input raises InputError before anything runs."""

    @abstractmethod
    def analyze(self, run_dir: Path, info: dict, error: str | None) -> dict:
        """One run's verdict from its folder: a dict with at least `status` (mdrive.jobs.FINAL) and `cause`."""

    @abstractmethod
    def summarize(self, out: Path, rows: list[dict], params) -> tuple[str, Mapping]:
        """Write `outputs` from every run's verdict; returns the headline as text and as `headline` data."""

    def status(self, folder: Path) -> list[str]:
        from mdrive import submit

        return submit.status(folder)

    def cancel(self, folder: Path) -> list[str]:
        from mdrive import submit

        return submit.cancel(folder)

    def reduced(self, params) -> bool:
        """Whether `params` hold reduced LJ values (no units to write)."""
        return bool(self.reduced_by and getattr(params, self.reduced_by, False))


def get(name: str) -> Protocol:
    """The protocol named `name` (a kind of study that runs through mdrive.driver)."""
    kind = study_kinds.get(name)
    if not isinstance(kind, Protocol):
        protocols = [n for n in study_kinds.names() if isinstance(study_kinds.get(n), Protocol)]
        raise InputError(f"'{name}' is not a protocol; one of {', '.join(protocols)}")
    return kind


def resolve(protocol: Protocol, given: dict, config: dict | None = None) -> tuple[RunOptions, object]:
    """The run options and the protocol's params: defaults < preset < config file < command line."""
    from mdrive.params import read_config
    from mdrive.params import resolve as read

    if config is None:
        config = read_config(given["config"]) if given.get("config") else {}
    run, params = read([RunOptions, protocol.params], given, config, protocol.reduced_by, protocol.presets)
    run.check()
    params.check()
    return run, params


def read_structures(run: RunOptions, potential, skip_bad: bool = False, elements_of=None) -> tuple[list, dict]:
    """The structures of a protocol command and, with `skip_bad`, those rejected up front (name -> why:
    unreadable, unsound, or elements the potential lacks); without it the first one stops everything.
    `elements_of(structure)`: the elements a run will hold (default: the structure's own)."""
    from mdrive import structures

    if not run.structures:
        raise InputError("give STRUCTURE files or folders (any ASE format), or `structures:` in --config")
    rejected = {} if skip_bad else None
    kept = []
    for s in structures.read(list(run.structures), rejected):
        try:
            potential.check_elements(elements_of(s) if elements_of else s.elements)
            s = structures.fit_to_cutoff(s, potential.cutoff)
            potential.check_size(s.name, len(s.atoms))
            kept.append(s)
        except InputError as err:
            if rejected is None:
                raise
            rejected[s.name] = str(err)
    if rejected is not None and not kept:
        raise InputError(f"--skip-bad: every structure was rejected, e.g. {next(iter(rejected.values()))}")
    return kept, rejected or {}


def need_two_atoms(structs: list, what: str) -> None:
    """MD at a temperature needs more than one atom: one atom has no thermal motion to control."""
    for s in structs:
        if len(s.atoms) < 2:
            raise InputError(f"structure {s.name} ({s.source}) has {len(s.atoms)} atom; {what} needs at least 2 "
                             f"(replicate the cell, e.g. atoms.repeat(2))")
