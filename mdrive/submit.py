"""`--submit SCHEDULER`: a protocol study run as a chain of batch jobs, each stopping cleanly before its wall time.

The submitting command validates everything and writes the study folder (manifest, config.yaml) as a local
run would, then submits job 1: the same command under the allocation's launcher,
`python -m mdrive PROTOCOL --config OUT/config.yaml --out OUT --resume --time-limit T`, with T the job's wall
time less a margin. A job that stops at T with runs left submits the next one (to start after it ends), until
every run has a final verdict, a job makes no progress, or --max-jobs is reached. OUT/jobs.json and the
manifest list every job; `mdrive status OUT` and `mdrive cancel OUT` read it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from mdrive import scheduler
from mdrive.errors import InputError
from mdrive.jobs import FINAL, is_final, read_metrics
from mdrive.manifest import MANIFEST, now, read_manifest, write_json

JOBS_FILE, JOBS_DIR = "jobs.json", "jobs"
PSIJ_DIR = f"{JOBS_DIR}/{scheduler.PSIJ_FOLDER}"
CHAIN_ENV, RANKS_ENV = "MDRIVE_CHAIN", "MDRIVE_JOB_RANKS"  # set in a job's environment by the submission


def margin_s(job_s: float) -> float:
    """Time kept back at the end of a job: start-up, the runs' clean stop, the summary, the next submission."""
    return min(max(20.0, 0.05 * job_s), 900.0)


DEFAULTS = {"ranks": 1, "job_time": 3600.0, "max_jobs": 10, "launcher": "mpirun"}
BATCH_ONLY = ("ranks", "nodes", "job_time", "queue", "account", "max_jobs", "launcher")


def given(run, name: str):
    """A --submit option's value, or its default."""
    value = getattr(run, name)
    return DEFAULTS[name] if value is None else value


def request(run) -> scheduler.Request:
    """The job mdrive asks for, from the protocol's --submit options (RunOptions)."""
    return scheduler.Request(run.submit, given(run, "ranks"), run.nodes, 1 if run.gpus else 0,
                             given(run, "job_time") / 60, run.queue, run.account, given(run, "launcher"))


def check(run) -> None:
    """--submit's options, refused up front (nothing written, nothing submitted)."""
    if run.submit is None:
        extra = [name for name in BATCH_ONLY if getattr(run, name) is not None]
        if extra:
            raise InputError(f"--{extra[0].replace('_', '-')} is an option of a batch job: add --submit "
                             f"slurm|pbs|lsf|flux")
        return
    scheduler.check(request(run))
    if given(run, "ranks") % run.ranks_per_run:
        raise InputError(f"--ranks-per-run {run.ranks_per_run} must divide the job's --ranks {given(run, 'ranks')}")
    if run.time_limit is not None:
        raise InputError("--time-limit is set by --submit from --job-time; give --job-time instead")


def first(plan) -> str:
    """Submit job 1 of a study whose folder is written (rank 0 of the submitting command)."""
    from dataclasses import asdict

    req = request(plan.options)
    earlier = read_record(plan.out)["jobs"] if plan.options.resume and (plan.out / JOBS_FILE).is_file() else []
    record = {"command": plan.protocol.name, "scheduler": req.scheduler, "request": asdict(req),
              "job_time_s": req.minutes * 60, "time_limit_s": req.minutes * 60 - margin_s(req.minutes * 60),
              "max_jobs": len(earlier) + given(plan.options, "max_jobs"), "runs": [j.name for j in plan.jobs],
              "jobs": earlier,
              "cancelled": None}
    native_id = _submit(plan.out, record, after=None)
    return (f"submitted to {req.scheduler} as job {native_id} ({req.processes} ranks, {req.minutes * 60:g} s); "
            f"follow it with `python -m mdrive status {plan.out}`")


RECORD = {"command": str, "scheduler": str, "request": dict, "runs": list, "jobs": list, "max_jobs": int,
          "time_limit_s": (int, float)}  # what jobs.json holds, and of which type


def read_record(out: Path) -> dict:
    """OUT/jobs.json, checked: a wrong one (edited, damaged, from elsewhere) is refused in one line."""
    from mdrive.untrusted import read_json

    path = Path(out) / JOBS_FILE
    if not path.exists():
        raise InputError(f"{out} holds no {JOBS_FILE}: it was not submitted with --submit")
    record = read_json(path, f"the {JOBS_FILE} mdrive writes")
    wrong = next((k for k, kind in RECORD.items() if not isinstance(record.get(k), kind)
                  or isinstance(record.get(k), bool)), None)
    if wrong is None and not all(isinstance(j, dict) and isinstance(j.get("id"), str) and isinstance(
            j.get("folder", JOBS_DIR), str) and _inside(j.get("folder", JOBS_DIR)) for j in record["jobs"]):
        wrong = "jobs"
    if wrong is None and not all(isinstance(r, str) for r in record["runs"]):
        wrong = "runs"
    if wrong is not None:
        raise InputError(f"{path}: its '{wrong}' is missing or not what mdrive writes; restore it, or run the "
                         f"study again with --resume")
    if record["scheduler"] not in scheduler.SCHEDULERS:
        raise InputError(f"{path}: scheduler '{record['scheduler']}' is not one mdrive submits to "
                         f"({', '.join(scheduler.SCHEDULERS)})")
    return record


def _inside(folder: str) -> bool:
    """A job's folder as mdrive records it: under OUT/jobs, never a path leading elsewhere."""
    parts = Path(folder).parts
    return bool(parts) and parts[0] == JOBS_DIR and ".." not in parts and not Path(folder).is_absolute()


def _submit(out: Path, record: dict, after: str | None) -> str:
    req = scheduler.Request(**record["request"])
    number = len(record["jobs"]) + 1
    job_dir = out / JOBS_DIR / f"job-{number:03d}"
    job_dir.mkdir(parents=True, exist_ok=True)
    args = ["-m", "mdrive", record["command"], "--config", str(out / "config.yaml"), "--out", str(out), "--resume",
            "--time-limit", f"{record['time_limit_s']:g}s"]
    env = scheduler.environment({CHAIN_ENV: str(out), RANKS_ENV: str(req.processes)})
    command = scheduler.Command(sys.executable, args, job_dir, env, f"mdrive-{record['command']}-{number}")
    native_id = scheduler.submit_job(req, command, out / PSIJ_DIR, after)
    record["jobs"].append({"id": native_id, "submitted": now(), "folder": str(job_dir.relative_to(out)),
                           "after": after})
    _save(out, record)
    return native_id


def _save(out: Path, record: dict) -> None:
    write_json(out / JOBS_FILE, record)
    manifest = read_manifest(out)
    manifest["jobs"] = {"scheduler": record["scheduler"], "ids": [j["id"] for j in record["jobs"]]}
    write_json(out / MANIFEST, manifest)


def check_world(size: int) -> None:
    """In a submitted job: the MPI world must have the ranks the job asked for. A launcher that did not start
    one MPI world (srun without PMI) gives N 1-rank programs that would each run the whole study."""
    asked = os.environ.get(RANKS_ENV)
    if asked and int(asked) != size:
        raise InputError(f"wrong launch: this job asked for {asked} MPI ranks but this process's MPI world has "
                         f"{size}; the launcher did not start one MPI world (srun needs --mpi=pmi2 or "
                         f"MpiDefault=pmi2 for this MPICH); nothing was run")


def finals(out: Path, names: list[str]) -> int:
    """Runs with a final verdict on disk."""
    return sum(is_final(out / "runs" / name) for name in names)


def after_job(out: Path, stop_reason: str | None) -> str | None:
    """At the end of a submitted job (rank 0): record it and, when it stopped at its time limit with runs
    left, submit the next one to start after it; one line saying what was done (None outside a chain)."""
    if os.environ.get(CHAIN_ENV) != str(out) or not (out / JOBS_FILE).is_file():
        return None
    record = read_record(out)
    this = record["jobs"][-1]
    done = finals(out, record["runs"])
    before = record["jobs"][-2].get("final_runs", 0) if len(record["jobs"]) > 1 else 0
    this.update(ended=now(), final_runs=done, stopped=stop_reason)
    left = len(record["runs"]) - done
    if not left:
        line = f"every run has a final verdict after {len(record['jobs'])} job(s)"
    elif record.get("cancelled"):
        line = "cancelled: no further job"
    elif stop_reason != "wall-time limit":
        line = f"{left} runs left; the job stopped by {stop_reason}, so no further job (resubmit with --resume)"
    elif done == before:
        line = (f"{left} runs left, but this job finished no run: a run needs more than --job-time; continue with "
                f"a longer --job-time and --resume")
    elif len(record["jobs"]) >= record["max_jobs"]:
        line = f"{left} runs left after --max-jobs {record['max_jobs']} jobs; continue with --resume"
    else:
        native_id = _submit(out, record, after=this["id"])
        return f"{left} runs left: submitted job {native_id} to continue"
    record["state"] = line
    _save(out, record)
    return line


def status(out: Path) -> list[str]:
    """What `mdrive status OUT` prints: the runs' progress from their folders and every job's state."""
    record = read_record(out)
    names = record["runs"]
    counts: dict[str, int] = {}
    for name in names:
        run_dir = out / "runs" / name
        metrics = read_metrics(run_dir)
        state = metrics["status"] if metrics else "running" if run_dir.is_dir() else "waiting"
        counts[state] = counts.get(state, 0) + 1
    final = sum(counts.get(s, 0) for s in FINAL)
    shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    lines = [f"{record['command']}: {final} of {len(names)} runs final ({shown})"]
    ids = [j["id"] for j in record["jobs"]]
    states = scheduler.states(record["scheduler"], ids, out / PSIJ_DIR) if ids else {}
    for number, job in enumerate(record["jobs"], 1):
        state, _, why = states.get(job["id"], "UNKNOWN").partition(" ")
        state = state.lower()
        lines.append(f"job {number} ({record['scheduler']} {job['id']}): {state}{' ' + why if why else ''}"
                     + _job_note(out, job, state))
    if record.get("cancelled"):
        lines.append(f"cancelled {record['cancelled']}; continue with --resume (and --submit)")
    elif record.get("state"):
        lines.append(record["state"])
    return lines


def _job_note(out: Path, job: dict, state: str) -> str:
    if "final_runs" in job:
        return f", ended {job['ended']} with {job['final_runs']} runs final ({job['stopped'] or 'done'})"
    if state in ("failed", "completed"):
        err = out / job["folder"] / "stderr.txt"
        lines = [x for x in err.read_text(errors="replace").splitlines() if x.strip()] if err.exists() else []
        said = [x for x in lines if x.startswith("mdrive: ")] or lines[-1:]  # mdrive's own word, else the last
        return f", ended without recording: {said[0][:300]}" if said else ", ended without recording"
    return ""


def cancel(out: Path) -> list[str]:
    """Cancel the study's jobs that have not ended; runs under way end as censored and rerun on --resume."""
    record = read_record(out)
    if record.get("cancelled"):
        return [f"already cancelled {record['cancelled']}: no job left to cancel; continue with --resume"]
    ids = [j["id"] for j in record["jobs"] if "ended" not in j]
    record["cancelled"] = now()
    _save(out, record)  # first: a job ending now must not submit a follow-up
    scheduler.cancel(record["scheduler"], ids, out / PSIJ_DIR)
    return [f"cancelled {record['scheduler']} job {i}" for i in ids] or ["no job was still queued or running"]
