"""Ensembles: COMM_WORLD split into groups of `ranks_per_run` ranks, each running its share of the runs.

Assignment is static and deterministic (longest job first, to the least-loaded group, by each job's
cost estimate): every rank knows its share without talking to the others, which keeps a failing group
from blocking anyone, and the result does not depend on timing. Each finished run writes metrics.json atomically, so nothing finished is ever lost;
with `resume`, runs whose metrics.json holds a final status are kept and only the rest run again.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mpi4py import MPI

from mdrive.manifest import write_json
from mdrive.run import GroupLost, StopControl, execute

WORLD = MPI.COMM_WORLD
METRICS, RUN_INFO = "metrics.json", "run.json"
MARKS = ".mdrive"  # per-invocation marker files: which ranks wait, which groups were lost
FINAL = ("valid", "invalid", "error")  # a censored run is not final: resume runs it again


@dataclass
class Job:
    name: str  # its directory under OUT/runs
    compose: Callable[[Path], None]  # writes the deck and its inputs into the run directory
    info: dict = field(default_factory=dict)  # run.json: what analysis needs besides the log
    cost: float = 1.0  # relative expected run time, for balancing the groups
    callbacks: dict = field(default_factory=dict)  # fix external id -> factory(lmp), see run.execute
    templates: tuple[str, ...] = ()  # the deck templates it composes (GPU mode reads their fixes)
    refused: str | None = None  # why this run cannot start (a structure rejected up front): recorded, not run


def assign(jobs: list[Job], groups: int) -> list[list[Job]]:
    """Longest-processing-time-first: each job, costliest first, to the group with the least work."""
    shares: list[list[Job]] = [[] for _ in range(groups)]
    load = [0.0] * groups
    for k in sorted(range(len(jobs)), key=lambda k: (-jobs[k].cost, k)):
        g = min(range(groups), key=lambda g: (load[g], g))
        shares[g].append(jobs[k])
        load[g] += jobs[k].cost
    return shares


@dataclass
class Ensemble:
    out: Path
    ranks_per_run: int
    analyze: Callable[[Path, dict, str | None], dict]  # (run_dir, info, error) -> metrics
    stop: StopControl
    resume: bool = False
    lammps_args: list[str] = field(default_factory=list)  # e.g. the Kokkos flags of a GPU run

    lost: bool = False  # a group was lost to a one-rank LAMMPS error; the caller must end the job

    def run(self, jobs: list[Job]) -> list[dict] | None:
        """Run every job; return all runs' metrics (job order) on the one rank that reports, else None."""
        color = WORLD.rank // self.ranks_per_run
        groups = WORLD.size // self.ranks_per_run
        comm = WORLD.Split(color, WORLD.rank)
        progress = Progress(self.out, len(jobs)) if WORLD.rank == 0 else None
        try:
            for job in assign(jobs, groups)[color]:
                if comm.allreduce(self.stop.requested(), op=MPI.LOR):
                    break
                self._one(job, comm, progress)
        except GroupLost:
            self._mark(f"lost-{color}")
        if not self._wait_for_all(groups, progress):
            return None
        if progress is None:
            progress = Progress(self.out, len(jobs))
        progress.show(final=True)
        return [m for m in (read_metrics(self.out / "runs" / j.name) for j in jobs) if m is not None]

    def _mark(self, name: str) -> None:
        marks = self.out / MARKS
        marks.mkdir(exist_ok=True)
        (marks / name).touch()

    def _wait_for_all(self, groups: int, progress) -> bool:
        """True on the rank that reports. Normally every rank reaches the barrier and rank 0 reports;
        when a group is lost its blocked ranks never come, so the lowest waiting rank reports once
        every group has finished or been lost, and the caller then ends the job."""
        self._mark(f"waiting-{WORLD.rank}")
        barrier = WORLD.Ibarrier()
        marks = self.out / MARKS
        while not barrier.Test():
            try:
                names = {p.name for p in marks.iterdir()}
            except FileNotFoundError:  # rank 0 passed the barrier and cleaned up: the next Test() is True
                continue
            waiting = sorted(int(n.split("-")[1]) for n in names if n.startswith("waiting-"))
            settled = all(f"lost-{g}" in names or all(f"waiting-{r}" in names for r in
                          range(g * self.ranks_per_run, (g + 1) * self.ranks_per_run)) for g in range(groups))
            if settled and any(n.startswith("lost-") for n in names):
                self.lost = True
                return WORLD.rank == waiting[0]
            if progress is not None:
                progress.tick(0)
            time.sleep(0.2)
        if WORLD.rank == 0:
            shutil.rmtree(marks, ignore_errors=True)
        return WORLD.rank == 0

    def _one(self, job: Job, comm, progress) -> None:
        run_dir = self.out / "runs" / job.name
        if self.resume and is_final(run_dir):
            return
        error = job.refused
        if comm.rank == 0 and error is None:
            try:
                if run_dir.exists():
                    shutil.rmtree(run_dir)  # a run that did not finish is redone from scratch
                job.compose(run_dir)
                if self.lammps_args:
                    note_command(run_dir, self.lammps_args)
                write_json(run_dir / RUN_INFO, job.info)
            except Exception as err:  # e.g. a disk error: this run fails, the others go on
                error = f"composing the run failed: {type(err).__name__}: {err}"
        error = comm.bcast(error, root=0)
        started = time.time()
        if job.refused and comm.rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / RUN_INFO, job.info)
        if error is None:
            try:
                error = execute(run_dir, comm, self.stop, on_step=progress.tick if progress else None,
                                callbacks=job.callbacks, lammps_args=self.lammps_args)
            except GroupLost as lost:  # this rank saw the error; the group's leader may be blocked
                write_json(run_dir / METRICS, self._verdict(run_dir, job, str(lost), time.time() - started))
                raise
        if comm.rank == 0:
            write_json(run_dir / METRICS, self._verdict(run_dir, job, error, time.time() - started))
        if progress:
            progress.tick(0)


    def _verdict(self, run_dir: Path, job: Job, error: str | None, wall: float) -> dict:
        try:
            metrics = self.analyze(run_dir, job.info, error)
        except Exception as err:  # a log the analysis cannot read must not cost the other runs
            metrics = {**job.info, "status": "error", "cause": f"analysis failed: {type(err).__name__}: {err}"}
        if metrics.get("status") == "censored" and self.stop.requested():
            metrics["cause"] = self.stop.reason()
        metrics["wall_s"] = round(wall, 3)
        return metrics


def note_command(run_dir: Path, lammps_args: list[str]) -> None:
    """Put the command line a GPU run needs at the top of its deck, so it reruns by hand the same way."""
    from mdrive.decks import DECK

    deck = run_dir / DECK
    line = f"# GPU run: lmp {' '.join(lammps_args)} -in {DECK}\n"
    deck.write_text(line + deck.read_text())


def read_metrics(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / METRICS).read_text())
    except (OSError, ValueError):
        return None


def is_final(run_dir: Path) -> bool:
    metrics = read_metrics(run_dir)
    return metrics is not None and metrics.get("status") in FINAL


class Progress:
    """One line on rank 0's stderr: runs done (from metrics.json files on disk), valid so far, ETA."""

    def __init__(self, out: Path, total: int, every: float = 5.0):
        self.out, self.total, self.every = out, total, every
        self.start = self.last = time.monotonic()
        self.done_before = self._count()[0]

    def _count(self) -> tuple[int, int]:
        metrics = [read_metrics(p) for p in (self.out / "runs").glob("*")] if (self.out / "runs").exists() else []
        finished = [m for m in metrics if m is not None]
        return len(finished), sum(m.get("status") == "valid" for m in finished)

    def tick(self, _step: int) -> None:
        if time.monotonic() - self.last >= self.every:
            self.show()

    def show(self, final: bool = False) -> None:
        self.last = time.monotonic()
        done, valid = self._count()
        new = done - self.done_before
        elapsed = self.last - self.start
        eta = _clock(elapsed / new * (self.total - done)) if new else "?"
        tail = "" if final or done >= self.total else f", ETA {eta}"
        print(f"[mdrive] {done}/{self.total} runs done, {valid} valid, {_clock(elapsed)} elapsed{tail}",
              file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"
