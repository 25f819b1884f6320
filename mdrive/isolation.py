"""Every run in a fresh process of its own, watched by the ensemble rank that started it.

mdrive pushes potentials until they break, and a breaking LAMMPS run can segfault, corrupt its heap or
allocate without bound. In-process, any of these took the whole MPI job down, and a heap that kept a
collapse's memory poisoned the runs after it. So an ensemble rank never runs LAMMPS itself: it starts
`python -m mdrive.worker RUN_DIR` (one rank: a singleton MPI process; K ranks: the MPI library's own
`mpiexec -n K` on the hosts of the run's group, through the batch system's launcher: launch.py), in a session
of its own, and waits. Measured here:
0.18 s to start one rank, 0.34 s for two (bench/results.md has the demo's wall time with and without).

The worker caps its data memory at the run's budget (worker.py); the supervisor also kills the run's
processes if their resident memory passes the budget (what the cap does not count, e.g. shared memory),
and forwards a stop (signal, wall time) through a file the worker's stop hook checks every thermo step.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from mdrive import launch
from mdrive.run_setup import Setup
from mdrive.worker import EXIT

STOP_FILE, WORKER_LOG = ".stop", "worker.log"
POLL_S = 0.25  # how often the supervisor checks a running run's memory and the stop request
GRACE_S = 30.0  # after a stop, how long a run may take to halt cleanly before it is killed
# variables of the outer launcher: a child that saw them would try to join the outer MPI job
LAUNCHER_VARS = ("PMI_", "PMIX_", "HYDI_", "HYDRA_", "MPI_LOCALNRANKS", "MPI_LOCALRANKID", "OMPI_", "PRTE_")
# ...but these are the user's own settings for Open MPI's launcher, which the nested one needs too
USER_OMPI_VARS = ("OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "OMPI_MCA_rmaps_base_oversubscribe")
MEMORY_SHARE = 0.8  # of the node's available memory, split over the runs that run on it at once


@dataclass
class Outcome:
    error: str | None  # None: the deck finished
    peak_rss: int = 0  # bytes, the largest resident set of the run's main process


def default_memory_per_run(runs_on_node: int) -> int:
    """A safe share of what this node has available, for each of the runs running on it at once."""
    return int(MEMORY_SHARE * available_memory() / max(1, runs_on_node))


def available_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def worker_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(LAUNCHER_VARS) or k in USER_OMPI_VARS}


def run(run_dir: Path, setup: Setup, hosts: list[str], stop, on_poll=None) -> Outcome:
    """Run the composed deck in `run_dir` in its own process(es), one rank on each of `hosts`, and wait;
    `stop` is the ensemble's StopControl, setup.memory_bytes the run's budget (all its ranks together)."""
    (run_dir / EXIT).unlink(missing_ok=True)
    (run_dir / STOP_FILE).unlink(missing_ok=True)
    ranks, memory = len(hosts), setup.memory_bytes
    replace(setup, stop_file=STOP_FILE, supervisor=(socket.gethostname(), os.getpid()), deadline=stop.deadline,
            rank_memory_bytes=memory // ranks).write(run_dir)
    argv = launch.command([sys.executable, "-m", "mdrive.worker", str(run_dir)], hosts)
    with open(run_dir / WORKER_LOG, "wb") as log:
        log.write(f"mdrive: {ranks} {ASKED} {launch.host_counts(hosts)}: {' '.join(argv)}\n".encode())
        log.flush()
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 env={**worker_env(), **launch.environment(hosts)}, start_new_session=True)
    status, peak, over, stopped_at, polls = None, 0, False, None, 0
    start = StartWatch(run_dir, ranks)
    with _exit_watch(child.pid) as exited:
        while status is None:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid == 0:
                status, polls = None, polls + 1
                rss = _resident(child.pid, ranks) if ranks == 1 or polls % 2 == 0 else 0  # a session scan costs ms
                peak = max(peak, rss)
                if rss > memory * 1.05 and not over:  # the cap did not hold: stop it before the OOM killer does
                    over = True
                    _kill(child.pid)
                if stopped_at is None and stop.requested():
                    (run_dir / STOP_FILE).touch()
                    stopped_at = time.monotonic()
                elif stopped_at is not None and time.monotonic() - stopped_at > GRACE_S:
                    _kill(child.pid)  # stopped, not crashed: its log ends where it was (censored)
                    stopped_at = float("inf")
                elif start.overdue():
                    _kill(child.pid)
                if on_poll:
                    on_poll()
                exited(POLL_S)
    child.returncode = status
    peak = max(peak, usage.ru_maxrss * 1024)
    if stopped_at == float("inf"):
        return Outcome(None, peak)
    if start.said:
        return Outcome(start.said, peak)
    outcome = _outcome(run_dir, status, over, memory, peak)
    if outcome.error in STOP_SIGNALS:  # a scheduler's or user's stop reached the process before its handler
        return Outcome(None, peak)
    return outcome


class StartWatch:
    """Whether a run's K ranks failed to come up in time: no worker's "running on" line in worker.log
    launch.RUN_START_S after the launch (e.g. a job step that waits for resources the job holds). Checked once,
    then `said` is the run's error."""

    def __init__(self, run_dir: Path, ranks: int):
        self.run_dir, self.due, self.said = run_dir, None if ranks == 1 else time.monotonic() + launch.RUN_START_S, None

    def overdue(self) -> bool:
        if self.due is None or time.monotonic() < self.due:
            return False
        self.due = None
        text = (self.run_dir / WORKER_LOG).read_text(errors="replace")
        if launch.RUNNING in text:
            return False
        lines = [x.strip() for x in text.splitlines() if x.strip() and not _launch_line(x)]
        self.said = (f"launch failed: its ranks did not all start within {launch.RUN_START_S:g} s"
                     + (f" ({lines[-1][:200]})" if lines else ""))
        return True


ASKED = "rank(s) asked on"  # worker.log's first line, by the supervisor: the launch command


def _launch_line(line: str) -> bool:
    """One of the launch's own lines in worker.log (asked, then got): never a run's last words."""
    return line.startswith("mdrive: ") and (ASKED in line or launch.RUNNING in line)


def _outcome(run_dir: Path, status: int, over: bool, memory: int, peak: int) -> Outcome:
    """What became of a run: the error its process recorded before closing LAMMPS, else how it died."""
    budget = f"memory budget exceeded ({_gb(memory)})"
    if over:
        return Outcome(budget, peak)
    said = _read_exit(run_dir)
    if said is not None:
        error = said.get("error")
        return Outcome(f"{budget}: {error}" if _out_of_memory(error) else error, peak)
    text = _worker_text(run_dir)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not _launch_line(line)]
    last = lines[-1][:200] if lines else ""
    if _out_of_memory(last):
        return Outcome(budget, peak)
    # died by a signal; through an MPI launcher, its report names it (hydra exits with the number itself)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    number = os.WTERMSIG(status) if code is None else (_signal_said(text) or code - 128)
    if number in signal.valid_signals() and number > 0:
        return Outcome(f"crashed: {signal.Signals(number).name}", peak)
    stopped_by_lammps = _lammps_error(run_dir)
    if stopped_by_lammps:  # a build without C++ exceptions (Debian's) writes its error to the log and exits
        return Outcome(stopped_by_lammps, peak)
    return Outcome(f"crashed: worker exited with code {code}" + (f" ({last})" if last else ""), peak)


def _lammps_error(run_dir: Path) -> str | None:
    """The last `ERROR...` line of the run's LAMMPS log, if it has one."""
    try:
        with open(run_dir / "log.lammps", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 65536))
            tail = f.read().decode(errors="replace")
    except OSError:
        return None
    errors = [line.strip() for line in tail.splitlines() if line.startswith("ERROR")]
    return errors[-1][:300] if errors else None


# mdrive kills with SIGKILL; these come from outside (scancel, kill, Ctrl-C) and never mean the potential broke
STOP_SIGNALS = ("crashed: SIGTERM", "crashed: SIGINT")
OOM_TEXTS = ("Failed to allocate", "Failed to reallocate", "Cannot allocate memory", "bad_alloc", "MemoryError",
             "can't allocate memory", "out of memory")


def _out_of_memory(text: str | None) -> bool:
    return bool(text) and any(t.lower() in text.lower() for t in OOM_TEXTS)


def _read_exit(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / EXIT).read_text())
    except (OSError, ValueError):
        return None


FATAL = {"Segmentation fault": signal.SIGSEGV, "Aborted": signal.SIGABRT, "Bus error": signal.SIGBUS,
         "Floating point exception": signal.SIGFPE, "Illegal instruction": signal.SIGILL}


def _signal_said(text: str) -> int | None:
    """The signal that ended a rank of a multi-rank run: the first rank's own last words (Python's
    faulthandler), else the launcher's report of the first bad termination (hydra: "EXIT CODE: 11",
    then "... (signal 15)" for the ranks it ended itself)."""
    for pattern, read in ((r"Fatal Python error: (" + "|".join(FATAL) + ")", lambda m: FATAL[m]),
                          (r"BAD TERMINATION.*?EXIT CODE: (\d+)", int), (r"\(signal (\d+)\)", int)):
        found = re.search(pattern, text, re.S)
        if found:
            return int(read(found.group(1)))
    return None


def _worker_text(run_dir: Path) -> str:
    """The end of what the run's processes printed (glibc's heap-corruption message, a traceback, the
    MPI launcher's report)."""
    try:
        with open(run_dir / WORKER_LOG, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _gb(nbytes: int) -> str:
    return f"{nbytes / 1e9:.1f} GB"


@contextlib.contextmanager
def _exit_watch(pid: int):
    """A sleep of up to `seconds` that ends when the process exits (its pidfd turns readable): the next run
    starts at once, and the supervisor wakes 4 times a second, not 20, beside a busy core."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd (Linux < 5.3): plain short sleeps
        yield lambda seconds: time.sleep(min(seconds, 0.05))
        return
    try:
        watch = select.poll()
        watch.register(fd, select.POLLIN)
        yield lambda seconds: watch.poll(seconds * 1000)
    finally:
        os.close(fd)


def _kill(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _resident(pid: int, ranks: int) -> int:
    """Resident bytes of the run: its process, or every process of its session (a nested mpiexec)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for p in [pid] if ranks == 1 else _session(pid):
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
    return total


def _session(sid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == sid:  # field 6 of stat: the session id
                out.append(int(entry.name))
    return out
