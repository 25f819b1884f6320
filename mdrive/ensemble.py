"""Ensembles: COMM_WORLD split into groups of `ranks_per_run` ranks, each running its share of the runs.

Assignment is static and deterministic (longest job first, to the least-loaded group, by each job's
cost estimate): every rank knows its share without talking to the others, and the result does not
depend on timing. Each run runs in processes of its own (isolation.py), started by its group's first
rank, so a run that segfaults, aborts or exhausts its memory is recorded and costs no other run. Each
finished run writes metrics.json atomically, so nothing finished is ever lost; with `resume`, runs whose
metrics.json holds a final verdict are kept and only the rest run again.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mpi4py import MPI

from mdrive import isolation, launch, out_folder
from mdrive.jobs import METRICS, OUTCOME, RUN_INFO, Job, is_final, read_metrics, verdict
from mdrive.manifest import write_json
from mdrive.protocol import RunOptions
from mdrive.run import StopControl

WORLD = MPI.COMM_WORLD


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
    options: RunOptions  # ranks per run; --resume keeps final runs (--retry-failed: not `error` ones)
    analyze: Callable[[Path, dict, str | None], dict]  # (run_dir, info, error) -> metrics
    stop: StopControl
    memory_per_run: int  # bytes, all ranks of one run together
    lammps_args: list[str] = field(default_factory=list)  # e.g. the Kokkos flags of a GPU run

    def run(self, jobs: list[Job]) -> list[dict] | None:
        """Run every job; return all runs' metrics (job order) on rank 0, else None."""
        color = WORLD.rank // self.options.ranks_per_run
        groups = WORLD.size // self.options.ranks_per_run
        comm = WORLD.Split(color, WORLD.rank)
        hosts = comm.allgather(launch.host_name())
        progress = Progress(self.out, len(jobs)) if WORLD.rank == 0 else None
        for job in assign(jobs, groups)[color]:
            if comm.allreduce(self.stop.requested(), op=MPI.LOR):  # the group agrees, or its waits would not pair
                break
            if comm.rank == 0:
                self._one(job, hosts, progress)
            _wait(comm, progress)  # the group's other ranks hold their cores while the run uses them
        _wait(WORLD, progress)
        if progress is None:
            return None
        progress.show(final=True)
        return [m for m in (read_metrics(self.out / "runs" / j.name) for j in jobs) if m is not None]

    def _one(self, job: Job, hosts: list[str], progress) -> None:
        try:
            self._run_one(job, hosts, progress)
        except OSError as err:
            self.stop.cannot_write(self.out, err)

    def _run_one(self, job: Job, hosts: list[str], progress) -> None:
        run_dir = self.out / "runs" / job.name
        if self.options.resume and is_final(run_dir, self.options.retry_failed):
            return
        error = job.refused
        try:
            if run_dir.exists() or run_dir.is_symlink():
                out_folder.remove_run(run_dir)  # a run that did not finish is redone from scratch
            if error is None:
                job.compose(run_dir)
                if self.lammps_args:
                    note_command(run_dir, self.lammps_args)
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / RUN_INFO, job.info)
            out_folder.record_run_files(run_dir)
        except Exception as err:  # e.g. a disk error: this run fails, the others go on
            error = f"composing the run failed: {type(err).__name__}: {err}"
        started, peak = time.time(), None
        if error is None:
            setup = replace(job.worker, lammps_args=tuple(self.lammps_args), memory_bytes=self.memory_per_run)
            outcome = isolation.run(run_dir, setup, hosts, self.stop, on_poll=progress.tick if progress else None)
            error, peak = outcome.error, outcome.peak_rss
        # what only the supervisor knows, kept beside the log so that `report` rebuilds the same verdict
        said = {"error": error, "stopped": self.stop.reason() if self.stop.requested() else None,
                "wall_s": round(time.time() - started, 3), "peak_rss_bytes": peak, "ranks": len(hosts),
                "hosts": launch.host_counts(hosts)}
        write_json(run_dir / OUTCOME, said)
        write_json(run_dir / METRICS, verdict(self.analyze, run_dir, job.info, said))
        out_folder.record_run_files(run_dir)
        if progress:
            progress.tick()


def _wait(comm, progress) -> None:
    """A barrier that sleeps instead of spinning (a waiting rank must not take a run's core) and keeps
    rank 0's progress line going."""
    barrier = comm.Ibarrier()
    while not barrier.Test():
        if progress is not None:
            progress.tick()
        time.sleep(0.05)


def note_command(run_dir: Path, lammps_args: list[str]) -> None:
    """Put the command line a GPU run needs at the top of its deck, so it reruns by hand the same way."""
    from mdrive.decks import DECK

    deck = run_dir / DECK
    line = f"# GPU run: lmp {' '.join(lammps_args)} -in {DECK}\n"
    deck.write_text(line + deck.read_text())


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

    def tick(self) -> None:
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
