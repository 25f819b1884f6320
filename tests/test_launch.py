"""How a run's K ranks start, per batch system (mdrive/launch.py): the launcher each one gets, hosts always named
inside an allocation, Slurm's overlap and CPUs per proxy, and the scaling jobs' record of their ranks' hosts."""
from __future__ import annotations

import pytest

from mdrive import launch

WORKER = ["python", "-m", "mdrive.worker", "RUN"]
BATCH_VARS = list(launch.BATCH_IDS.values())


@pytest.fixture
def inside(monkeypatch):
    """Pretend to be inside an allocation of `system` (None: no batch job)."""
    def enter(system):
        for var in BATCH_VARS:
            monkeypatch.delenv(var, raising=False)
        if system:
            monkeypatch.setenv(launch.BATCH_IDS[system], "42")
    return enter


@pytest.mark.parametrize(("system", "hosts", "launcher"), [
    (None, ["a", "a"], None), (None, ["a", "b"], None),  # hydra's default: fork here, ssh elsewhere
    ("slurm", ["a", "a"], "slurm"), ("slurm", ["a", "b"], "slurm"),
    ("lsf", ["a", "b"], "lsf"), ("pbs", ["a", "a"], "fork"), ("pbs", ["a", "b"], "ssh"),
    ("flux", ["a", "a"], "fork"), ("flux", ["a", "b"], "ssh")])
def test_each_batch_system_gets_its_launcher(inside, system, hosts, launcher):
    if launch.open_mpi():
        pytest.skip("this environment's MPI is Open MPI: its launcher takes --host only")
    inside(system)
    argv = launch.command(WORKER, hosts)
    assert argv[1:3] == ["-n", "2"] and argv[-4:] == WORKER
    named = system is not None or len(set(hosts)) > 1  # inside an allocation, always: else hydra takes its first nodes
    assert ("-hosts" in argv) == named
    if named:
        assert argv[argv.index("-hosts") + 1] == launch.host_counts(hosts)
    assert (argv[argv.index("-launcher") + 1] if "-launcher" in argv else None) == launcher


def test_one_rank_is_the_program_itself(inside):
    inside("slurm")
    assert launch.command(WORKER, ["a"]) == WORKER and launch.environment(["a"]) == {}


def test_slurm_steps_overlap_and_each_proxy_gets_its_ranks_cpus(inside):
    inside("slurm")
    assert launch.environment(["a", "a", "a", "b"]) == {"SLURM_OVERLAP": "1", "SRUN_CPUS_PER_TASK": "3"}
    inside("pbs")
    assert launch.environment(["a", "b"]) == {}


def test_slurm_hosts_are_node_names(inside, monkeypatch):
    inside("slurm")
    monkeypatch.setenv("SLURMD_NODENAME", "c042")
    assert launch.host_name() == "c042"
    inside(None)
    assert launch.host_name() != "c042"  # MPI's processor name outside Slurm


def test_ranks_file_gives_hosts_in_rank_order(tmp_path):
    (tmp_path / launch.RANKS_FILE).write_text("2 n2\n0 n1\n10 n2\n1 n1\ngarbage\n3 n2\n")
    assert launch.read_ranks(tmp_path) == "n1:2,n2:3"
    assert launch.read_ranks(tmp_path / "none") is None
    (tmp_path / launch.RANKS_FILE).write_bytes(b"0 n1\n\xff\xfe 1\n")  # damaged: read, never a crash
    assert launch.read_ranks(tmp_path) == "n1:1"


def test_the_probe_answer_is_found_among_the_launchers_lines():
    out = '[proxy:0@n1] got a signal\n[mpiexec@n1] note\n["n1", "n2"]\n'
    assert launch._answer(out) == ["n1", "n2"] and launch._answer("[1, 2]\n[oops") is None
