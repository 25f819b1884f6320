"""The cluster path against a real one-node Slurm (Debian's slurmctld/slurmd/munge, started by the fixture):
scaling studies submitted with both launchers and collected, a ramp ensemble that needs a chain of jobs
and ends equal to a local run, the srun-without-PMI launch caught, cancel leaving a resumable folder, runs of
2 ranks inside a job equal to local ones, and a job whose runs cannot get their ranks failing with the cause."""
from __future__ import annotations

import json
import math
import sys
import time

import pandas as pd
import pytest
from helpers import mdrive, structure_set
from slurm_cluster import logs_on_failure, wait_for

from mdrive.submit import margin_s

pytestmark = pytest.mark.slurm


@pytest.mark.parametrize("launcher", ["mpirun", "srun"])
def test_weak_scaling_submitted_and_collected(tmp_path, slurm, launcher):
    out = tmp_path / "weak"
    r = mdrive("scaling", "plan", "--kind", "weak", "--potential", "eam/alloy:CuNi.eam.alloy", "--atoms-per-rank",
               "1000", "--ranks", "1,2", "--steps", "100", "--warmup", "10", "--out", out, env=slurm)
    assert r.returncode == 0, r.stderr
    r = mdrive("scaling", "run", out, "--scheduler", "slurm", "--launcher", launcher, "--minutes", "5",
               "--wait", "120", env=slurm)
    assert r.returncode == 0, r.stderr + logs_on_failure(slurm)
    assert r.stdout.count("submitted to slurm as") == 2
    assert r.stdout.count("completed (slurm job") == 2, r.stdout + logs_on_failure(slurm)
    script = (out / "jobs" / "weak-r0002" / "job.slurm.sh").read_text()
    assert "#SBATCH --ntasks-per-node=2" in script and f"{launcher.replace('mpirun', 'mpi')}_launch.sh" in script
    r = mdrive("scaling", "collect", out, env=slurm)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out / "scaling.csv").set_index("ranks")
    assert list(table["status"]) == ["done", "done"]
    # efficiency from the jobs' own logs: t(1 rank)/t(2 ranks) of the wall time per step
    assert table.loc[1, "efficiency"] == 1.0
    assert table.loc[2, "efficiency"] == pytest.approx(table.loc[1, "seconds_per_step"] / table.loc[2, "seconds_per_step"])
    assert 0 < table.loc[2, "efficiency"] < 2  # 1000 atoms per rank on a shared 2-core machine: a sanity bound
    status = mdrive("status", out, env=slurm).stdout.splitlines()
    assert [x.split(" (")[0] for x in status] == ["weak-r0001: completed", "weak-r0002: completed"], status
    again = mdrive("scaling", "run", out, "--scheduler", "slurm", env=slurm)  # never submits twice
    assert again.stdout.count("skipped") == 2 and "submitted" not in again.stdout


def test_srun_without_pmi_is_a_wrong_launch(tmp_path, slurm):
    """MpiDefault=none (here forced by SLURM_MPI_TYPE): a 2-rank job runs as two 1-rank LAMMPS runs that
    all exit 0. The scaling point is marked, and a protocol job refuses to start twice over."""
    no_pmi = {**slurm, "SLURM_MPI_TYPE": "none"}  # PSI/J's script exports the submitting environment
    out = tmp_path / "weak"
    assert mdrive("scaling", "plan", "--kind", "weak", "--potential", "eam/alloy:CuNi.eam.alloy", "--atoms-per-rank",
                  "1000", "--ranks", "1,2", "--steps", "50", "--warmup", "0", "--out", out, env=slurm).returncode == 0
    r = mdrive("scaling", "run", out, "--scheduler", "slurm", "--launcher", "srun", "--minutes", "5", "--wait", "120",
               env=no_pmi)
    assert r.stdout.count("completed (slurm job") == 2, r.stdout + r.stderr  # the scheduler saw nothing wrong
    r = mdrive("scaling", "collect", out, env=slurm)
    table = pd.read_csv(out / "scaling.csv").set_index("ranks")
    assert table.loc[1, "status"] == "done" and table.loc[2, "status"] == "wrong launch"
    assert "ran on 1 procs, 2 were planned" in table.loc[2, "reason"] and "wrong launch" in r.stderr
    assert pd.isna(table.loc[2, "efficiency"])

    src = structure_set(tmp_path, 2, name="s{k}")
    study = tmp_path / "ramp"
    r = mdrive("ramp", src, "--potential", "eam:Cu_u3.eam", "--duration", "1", "--submit", "slurm", "--ranks", "2",
               "--launcher", "srun", "--job-time", "2min", "--out", study, env=no_pmi)
    assert r.returncode == 0, r.stderr
    status = wait_for(lambda: (s := mdrive("status", study, env=slurm).stdout) and "job 1" in s and
                      ("failed" in s or "completed" in s) and s, 120, "the job did not end", slurm)
    assert "wrong launch: this job asked for 2 MPI ranks" in status, status
    assert not list(study.glob("runs/*")), "a wrong launch must run nothing"


def test_ramp_chain_of_jobs_equals_a_local_run(tmp_path, slurm):
    """A study three times the size of one job's time for runs goes on in further jobs, and ends as the same
    study run here in one go. The size is the study's own: the local run's wall time sets the job time, so the
    chain does not depend on this machine's speed. Typed as a user would, from another working folder, with
    relative paths (the jobs run from config.yaml, whose paths are absolute)."""
    structure_set(tmp_path, 8, name="s{k}")
    args = ["ramp", "set", "--potential", "eam:Cu_u3.eam", "--ensemble", "nvt", "--duration", CHAIN_PS, "--t-stop",
            "1000"]
    r = mdrive(*args, "--out", "local", cwd=tmp_path, env=slurm)
    assert r.returncode == 0, r.stderr
    local = tmp_path / "local"
    work = pd.read_csv(local / "summary.csv")["wall_s"].sum()
    job_s = math.ceil(margin_s(60) + START_S + work / 3)  # a third of the runs fit in a job, whatever the speed
    chained = tmp_path / "chained"
    r = mdrive(*args, "--submit", "slurm", "--ranks", "1", "--job-time", f"{job_s}s", "--max-jobs", "10", "--out",
               "chained", cwd=tmp_path, env=slurm)
    assert r.returncode == 0, r.stderr
    assert "submitted to slurm as job" in r.stdout
    record = wait_for(lambda: (j := json.loads((chained / "jobs.json").read_text())).get("state") and j, 900,
                      "the chain did not finish", slurm)
    assert record["state"].startswith("every run has a final verdict"), record
    jobs = record["jobs"]
    assert len(jobs) >= 2, f"8 runs of {work:.1f} s in all fit in one job of {job_s} s: nothing was chained"
    assert all(j["stopped"] == "wall-time limit" for j in jobs[:-1])  # the last may reach it too, after its runs
    assert [j["after"] for j in jobs[1:]] == [j["id"] for j in jobs[:-1]]  # each waits for the one before
    manifest = json.loads((chained / "manifest.json").read_text())
    assert manifest["jobs"]["ids"] == [j["id"] for j in jobs] and len(manifest["resumed"]) == len(jobs)
    drop = ["steps_per_s", "wall_s"]
    pd.testing.assert_frame_equal(pd.read_csv(chained / "summary.csv").drop(columns=drop),
                                  pd.read_csv(local / "summary.csv").drop(columns=drop))
    status = mdrive("status", "chained", cwd=tmp_path, env=slurm).stdout
    assert "8 of 8 runs final (8 valid)" in status and status.count("completed") == len(jobs), status
    # the study's own config.yaml replays it from yet another folder: nothing is left to run, nothing changed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = mdrive("ramp", "--config", "../chained/config.yaml", "--out", "../chained", "--resume", cwd=elsewhere, env=slurm)
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(pd.read_csv(chained / "summary.csv").drop(columns=drop),
                                  pd.read_csv(local / "summary.csv").drop(columns=drop))


def test_status_and_cancel_of_a_scaling_study(tmp_path, slurm):
    """`mdrive status` and `mdrive cancel` treat a scaling study as any study folder: the 2-rank point asks two
    nodes of the one-node cluster and stays queued; cancel ends it alone, and `scaling run` submits it again."""
    out = tmp_path / "weak"
    assert mdrive("scaling", "plan", "--kind", "weak", "--potential", "eam/alloy:CuNi.eam.alloy", "--atoms-per-rank",
                  "1000", "--ranks", "1,2", "--ranks-per-node", "1", "--steps", "50", "--warmup", "0", "--out", out,
                  env=slurm).returncode == 0
    r = mdrive("scaling", "run", out, "--scheduler", "slurm", "--minutes", "5", env=slurm)
    assert r.returncode == 0 and r.stdout.count("submitted to slurm as") == 2, r.stdout + r.stderr
    status = wait_for(lambda: "weak-r0001: completed" in (s := mdrive("status", out, env=slurm).stdout) and s, 120,
                      "the one-rank point did not complete", slurm)
    assert "weak-r0002: queued" in status, status
    r = mdrive("cancel", out, env=slurm)
    assert r.returncode == 0 and r.stdout.count("cancelled slurm job") == 1, r.stdout + r.stderr
    status = mdrive("status", out, env=slurm).stdout.splitlines()
    assert status[0].startswith("weak-r0001: completed") and status[1].startswith("weak-r0002: cancelled"), status
    again = mdrive("cancel", out, env=slurm)
    assert again.returncode == 0 and "no job was still queued or running" in again.stdout
    r = mdrive("scaling", "run", out, "--scheduler", "slurm", "--minutes", "5", env=slurm)
    assert "weak-r0001: already done, skipped" in r.stdout and "weak-r0002: submitted to slurm" in r.stdout, r.stdout
    assert mdrive("cancel", out, env=slurm).stdout.count("cancelled slurm job") == 1


def test_cancel_leaves_the_folder_resumable(tmp_path, slurm):
    src = structure_set(tmp_path, 4, name="s{k}")
    args = ["ramp", src, "--potential", "eam:Cu_u3.eam", "--ensemble", "nvt", "--duration", "60", "--t-stop", "1000"]
    out = tmp_path / "out"
    assert mdrive(*args, "--submit", "slurm", "--ranks", "2", "--job-time", "10min", "--out", out,
                  env=slurm).returncode == 0
    wait_for(lambda: list(out.glob("runs/*/metrics.json")), 120, "no run finished", slurm)
    r = mdrive("cancel", out, env=slurm)
    assert r.returncode == 0 and "cancelled slurm job" in r.stdout, r.stdout + r.stderr
    wait_for(lambda: "cancel" in (s := mdrive("status", out, env=slurm).stdout) and "active" not in s, 60,
             "the job did not end", slurm)
    statuses = [json.loads(p.read_text())["status"] for p in out.glob("runs/*/metrics.json")]
    assert "error" not in statuses, statuses  # runs cut by the cancel are censored, not failed
    again = mdrive("cancel", out, env=slurm)
    assert again.returncode == 0 and "already cancelled" in again.stdout and "cancelled slurm job" not in again.stdout
    r = mdrive(*args, "--out", out, "--resume", np=2, env=slurm)
    assert r.returncode == 0, r.stderr
    final = pd.read_csv(out / "summary.csv")
    assert len(final) == 4 and set(final["status"]) == {"valid"}


def _job_that_cannot_start(tmp_path, slurm):
    """A study submitted asking two nodes of the one-node cluster: it stays queued until cancelled."""
    src = structure_set(tmp_path, 1, name="s{k}")
    out = tmp_path / "out"
    r = mdrive("ramp", src, "--potential", "eam:Cu_u3.eam", "--submit", "slurm", "--ranks", "2", "--nodes", "2",
               "--job-time", "2min", "--out", out, env=slurm)
    assert r.returncode == 0, r.stderr
    return out


def test_a_job_that_cannot_start_says_why(tmp_path, slurm):
    """Two nodes asked of a one-node cluster: Slurm queues the job for ever; status says why, with what to do."""
    out = _job_that_cannot_start(tmp_path, slurm)
    status = wait_for(lambda: "slurm says" in (s := mdrive("status", out, env=slurm).stdout) and s, 30,
                      "no reason shown", slurm)
    assert "queued (slurm says: Partition" in status and "it cannot start as asked" in status, status
    assert mdrive("cancel", out, env=slurm).returncode == 0


def test_status_says_in_one_line_when_the_queue_does_not_answer(tmp_path, slurm):
    out = _job_that_cannot_start(tmp_path, slurm)
    down = {k: v for k, v in slurm.items() if k != "SLURM_CONF"}  # squeue finds no controller, as when it is down
    r = mdrive("status", out, env=down)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert ("slurm's queue does not answer" in r.stderr or "did not answer" in r.stderr) and r.stdout == ""
    assert mdrive("cancel", out, env=slurm).returncode == 0


CHAIN_PS = "50"  # ps per run: 2-4 s of 108-atom EAM copper here, one core each
START_S = 5  # a job's start-up before its first run: Python, mdrive, the preflight


TABLES = {"ramp": "summary.csv", "evscan": "evscan.csv"}  # each protocol's run-by-run table
TIMING = ["steps_per_s", "wall_s"]


def same_runs(protocol: str, a, b) -> None:
    """Two studies' tables agree run by run, but for their timings."""
    read = [pd.read_csv(folder / TABLES[protocol]) for folder in (a, b)]
    pd.testing.assert_frame_equal(*(t.drop(columns=[c for c in TIMING if c in t]) for t in read))


def two_rank_runs(protocol: str, src) -> list:
    if protocol == "ramp":
        return ["ramp", src, "--potential", "eam:Cu_u3.eam", "--ensemble", "nvt", "--duration", "1", "--t-stop",
                "900", "--ranks-per-run", "2"]
    return ["evscan", src, "--potential", "eam:Cu_u3.eam", "--ranks-per-run", "2"]


@pytest.mark.parametrize("protocol", ["ramp", "evscan"])
def test_runs_of_two_ranks_in_a_job_equal_a_local_run(tmp_path, slurm, protocol):
    """The issue's study: each run on 2 ranks inside a 2-rank job. Its runs' steps overlap the CPUs the job's
    own ranks hold while they wait; before, each run waited for them until the wall time."""
    src = structure_set(tmp_path, 3, name="s{k}")
    args = two_rank_runs(protocol, src)
    local = tmp_path / "local"
    r = mdrive(*args, "--out", local, np=2, env=slurm)
    assert r.returncode == 0, r.stderr
    sub = tmp_path / "sub"
    r = mdrive(*args, "--submit", "slurm", "--ranks", "2", "--job-time", "3min", "--out", sub, env=slurm)
    assert r.returncode == 0, r.stderr
    record = wait_for(lambda: (j := json.loads((sub / "jobs.json").read_text())).get("state") and j, 150,
                      "the job did not finish", slurm)
    assert record["state"].startswith("every run has a final verdict after 1 job"), record
    same_runs(protocol, local, sub)
    for run in (sub / "runs").iterdir():
        log = (run / "worker.log").read_text()
        assert "-launcher slurm" in log and "mdrive: 2 rank(s) running on localhost:2" in log, log
        assert json.loads((run / "outcome.json").read_text())["hosts"] == "localhost:2"
    said = (sub / "jobs" / "job-001" / "stderr.txt").read_text()
    assert "2-rank runs start on localhost:2" in said and "(slurm allocation)" in said, said


def test_a_job_whose_runs_cannot_get_their_ranks_fails_with_the_cause(tmp_path, slurm):
    """The failure before this fix, put back by a launcher that drops the overlap: the runs' job steps wait for
    the CPUs the job's ranks hold. The probe before any run gives up in seconds; the job is `failed`, with the
    cause, in every `status`, and nothing ran."""
    no_overlap = tmp_path / "mpiexec-no-overlap"
    no_overlap.write_text(f'#!/bin/sh\nunset SLURM_OVERLAP\nexec {sys.executable.rsplit("/", 1)[0]}/mpiexec "$@"\n')
    no_overlap.chmod(0o755)
    env = {**slurm, "MDRIVE_MPIEXEC": str(no_overlap), "MDRIVE_LAUNCH_TIMEOUT": "5"}  # the job inherits both
    src = structure_set(tmp_path, 2, name="s{k}")
    out = tmp_path / "out"
    r = mdrive(*two_rank_runs("ramp", src), "--submit", "slurm", "--ranks", "2", "--job-time", "5min", "--out", out,
               env=env)
    assert r.returncode == 0, r.stderr
    started = time.monotonic()
    status = wait_for(lambda: "job 1" in (s := mdrive("status", out, env=slurm).stdout) and "active" not in s
                      and "queued" not in s and s, 240, "the job did not end", slurm)
    assert time.monotonic() - started < 270  # ended by the probe, not at its 5 min wall time
    assert "job 1 (slurm" in status and "): failed, ended without recording: mdrive: runs of 2 ranks cannot start" \
        in status and "did not start within 5 s" in status, status
    assert not (out / "runs").exists(), "nothing may run"
    assert mdrive("status", out, env=slurm).stdout == status  # PSI/J's exit-code file is kept: still failed
