"""Run layer: one composed deck on one communicator, with its failure contained and recorded.

mdrive feeds the deck to LAMMPS command by command (the same commands `lmp -in in.lammps` would run) so
that it can attach its callbacks to `fix external` fixes as soon as they exist: the callback is how a
signal or the wall-time budget stops a run cleanly, on the same step on every rank of the run.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import re
import signal
import socket
import time
from pathlib import Path

from mpi4py import MPI

from mdrive import decks
from mdrive.jobs import LOG
from mdrive.run_setup import Setup
from mdrive.runtime import new_lammps

HOOKS = "mdrive-hooks.in"

LOOP = "loop.in"  # the looping part of a deck, fed to LAMMPS as a file
# what may carry a run on once its deck has set it up: name -> module with drive(lmp, run_dir, comm, stop, failed)
DRIVERS = {"mc": "mdrive.mc_engine"}


class StopControl:
    """Why runs should end early: a signal (SIGTERM, SIGINT, SIGUSR1), the wall-time deadline (seconds
    since the epoch, so it crosses into a run's own process), the supervisor's stop file, or the
    supervisor gone."""

    def __init__(self, time_limit: float | None = None, deadline: float | None = None,
                 stop_file: Path | None = None, supervisor: tuple[str, int] | None = None):
        self.deadline = time.time() + time_limit if time_limit else deadline
        self.stop_file = stop_file
        # (host, pid) of the rank that started this run: checked only where that pid means something
        self.supervisor = supervisor[1] if supervisor and supervisor[0] == socket.gethostname() else None
        self.signal: int | None = None
        self.outside: str | None = None  # what the supervisor's side said
        self.disk_full = False  # the output folder cannot be written any more

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, _frame) -> None:
        self.signal = signum

    def cannot_write(self, folder: Path, err: OSError) -> None:
        """Stop because the output folder is full or read-only: what is written stays, no further run starts."""
        self.outside = f"cannot write in {folder}: {err.strerror or err}"
        self.disk_full = True

    def reason(self) -> str:
        if self.signal is not None:
            return f"signal {signal.Signals(self.signal).name}"
        if self.deadline is not None and time.time() >= self.deadline:
            return "wall-time limit"
        return self.outside or "not stopped"

    def requested(self) -> bool:
        if self.signal is not None or (self.deadline is not None and time.time() >= self.deadline):
            return True
        if self.stop_file is not None and self.stop_file.exists():
            self.outside = "stopped by mdrive"
        elif self.supervisor is not None and not _alive(self.supervisor):
            self.outside = "supervisor gone"
        return self.outside is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def run_deck(run_dir: Path, comm, stop: StopControl, callbacks: dict | None = None,
             setup: Setup | None = None, before_close=None) -> str | None:
    """Run `run_dir/in.lammps` on `comm`; None if LAMMPS finished, else the error text.

    `setup.lammps_args` are extra LAMMPS command-line arguments (a GPU run's Kokkos flags); `setup.driver` (a
    name in DRIVERS) carries the run on in Python after the deck (mdrive.mc_engine's MC). `before_close(error)`
    records the outcome before LAMMPS is closed: after a failed allocation, closing it can segfault.
    `callbacks` maps fix ids of `fix external` (e.g. a potential computed in Python) to factories
    `factory(lmp) -> callback`, attached like the stop hook right after the command that defines the fix.

    Python signal handlers run inside the callback (it is Python code on the main thread), so a
    SIGTERM is seen within one thermo interval even while LAMMPS is busy in C++.
    """
    setup = setup or Setup()
    deck = (run_dir / decks.DECK).read_text()
    hooks = decks.template_path(HOOKS)
    lmp = new_lammps(comm, log=run_dir / LOG, variables={"mdrive_hooks": str(hooks)}, extra=setup.lammps_args)
    pending = dict(callbacks or {})

    def stop_hook(_caller, _step, _nlocal, _tag, _x, _f):
        halt = stop.requested()
        if comm.size > 1:
            halt = comm.allreduce(halt, op=MPI.LOR)
        if halt:
            lmp.set_internal_variable("mdrive_stop", 1.0)

    attached = []  # the callbacks in use: a model computed in Python records its failure on its own
    try:
        with _cwd(run_dir):
            head, loop = _split_loop(deck)
            pending["mdrive_hook"] = lambda _lmp: stop_hook
            for command in decks.commands(head):
                lmp.command(command)
                if pending:  # as soon as the command (or a file it included) has defined the fix
                    attached += _attach(lmp, pending)
                if _failure(attached):
                    break
            if (loop or setup.driver) and not _failure(attached):
                attached += _attach(lmp, pending)
                _loop(lmp, run_dir, comm, loop)
            if setup.driver and not _failure(attached):
                driver = importlib.import_module(DRIVERS[setup.driver])
                driver.drive(lmp, run_dir, comm, stop, lambda: _failure(attached))
        error = _failure(attached)
    except Exception as err:  # LAMMPS errors arrive as plain Exception; anything else is recorded too
        error = _failure(attached) or str(err).strip() or type(err).__name__
        if type(err).__name__ == "MPIAbortException" and comm.size > 1:
            raise OneRankError(error) from None  # closing would wait for the blocked ranks
    if before_close is not None:
        before_close(error)
    with contextlib.suppress(Exception):
        lmp.close()
    return error


def _loop(lmp, run_dir: Path, comm, loop: str) -> None:
    """LAMMPS runs label/jump loops only from a file: the deck's loop, fed as one."""
    if loop:
        if comm.rank == 0:  # LAMMPS reads input files on its rank 0 only
            (run_dir / LOOP).write_text(loop)
        lmp.file(LOOP)


def _split_loop(deck: str) -> tuple[str, str]:
    """The deck before its first `label` line, and the rest (empty when the deck has no loop)."""
    match = re.search(r"^\s*label\s", deck, re.M)
    return (deck, "") if match is None else (deck[:match.start()], deck[match.start():])


def _attach(lmp, pending: dict) -> list:
    attached = []
    for fix_id in [f for f in pending if lmp.has_id("fix", f)]:
        attached.append(pending.pop(fix_id)(lmp))
        lmp.set_fix_external_callback(fix_id, attached[-1])
    return attached


def _failure(callbacks: list) -> str | None:
    """What a model computed in a callback (potentials.bridge.Bridge) said when it failed, if it did."""
    return next((c.failure for c in callbacks if getattr(c, "failure", None)), None)


class OneRankError(Exception):
    """A LAMMPS error raised on one rank only (error->one: neighbor list overflow, non-numeric
    coordinates, ...) leaves the run's other ranks blocked inside LAMMPS, out of reach: the rank that
    saw it records the error and ends the run's own MPI world (mdrive.worker)."""


@contextlib.contextmanager
def _cwd(path: Path):
    # one LAMMPS instance per process at a time, so the process-wide cwd is ours to set per run
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)
