"""`python -m mdrive.worker RUN_DIR`: one run in a process of its own (see isolation.py).

The process reads RUN_DIR/worker.json (mdrive.run_setup), caps its own data memory at the run's budget, runs the deck on
its own MPI world (a singleton, or the ranks of a nested mpiexec) and writes RUN_DIR/exit.json: the
LAMMPS error text, or null when the deck finished. A process that dies by a signal writes nothing;
the supervisor tells that from the missing file. Its heap, threads, plugins and working directory
die with it, so nothing of this run reaches the next.
"""
from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import resource
import signal
import sys
from pathlib import Path

from mdrive.run_setup import Setup

EXIT = "exit.json"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def main(run_dir: Path) -> int:
    setup = Setup.read(run_dir)
    _die_with_parent()
    faulthandler.enable()  # a crash leaves the Python stack in worker.log, beside the log
    cap_memory(setup.rank_memory_bytes)
    raise_stack()

    from mdrive.runtime import keep_freed_memory, load_torch_first  # imports no lammps yet

    keep_freed_memory()  # MLIP speed (runtime.py); this process ends with the run, so nothing leaks on
    if setup.torch_first:
        load_torch_first()  # before anything below loads liblammps
    from mpi4py import MPI

    from mdrive.manifest import write_json
    from mdrive.run import OneRankError, StopControl, run_deck

    comm = MPI.COMM_WORLD
    _say_hosts(comm)
    stop = StopControl(deadline=setup.deadline, stop_file=run_dir / setup.stop_file, supervisor=setup.supervisor)
    stop.install()
    def record(error):
        if comm.rank == 0:
            write_json(run_dir / EXIT, {"error": error})

    try:
        run_deck(run_dir, comm, stop, callbacks=_callbacks(setup.bridge), setup=setup, before_close=record)
    except OneRankError as one:  # only this rank saw the error: record it, then end the others with us
        write_json(run_dir / EXIT, {"error": str(one)})
        sys.stderr.flush()
        comm.Abort(3)
    return 0


def _say_hosts(comm) -> None:
    """Where this run's ranks really are, in worker.log under the launch line that asked for them."""
    from mdrive.launch import RUNNING, host_counts, host_name

    hosts = comm.gather(host_name())
    if hosts is not None:
        print(f"mdrive: {comm.size} {RUNNING} {host_counts(hosts)}", flush=True)


def cap_memory(limit: int | None) -> None:
    """RLIMIT_DATA counts what a run allocates (heap and anonymous maps, not shared libraries), so an
    allocation past the budget fails inside this process, in LAMMPS's own allocator where it can, long
    before the kernel's OOM killer would pick a victim among all the runs on the node."""
    if limit:
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        limit = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def raise_stack() -> None:
    """Let the main thread's stack grow as far as the kernel left room below it (>= 128 MiB, set at exec):
    SevenNet's pair_e3gnn keeps its edge arrays on the stack and segfaulted above ~2,000 atoms under the
    usual 8 MiB. Threads keep their default stacks (glibc fixed them at start), so RLIMIT_DATA still holds."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))


def _die_with_parent() -> None:
    # the supervisor may be killed outright (scancel, the launcher's teardown): never outlive it
    try:
        ctypes.CDLL("libc.so.6").prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _callbacks(bridge: list | None) -> dict:
    """The fix external callbacks of a potential computed outside LAMMPS, rebuilt in this process
    (a loaded model cannot be sent over): the spec forced onto its ASE route, for `elements`."""
    if not bridge:
        return {}
    from mdrive import potentials

    spec, elements = bridge
    return potentials.load(spec, "ase").callbacks(elements)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
