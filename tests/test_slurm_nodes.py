"""Two Slurm nodes on one machine (tests/slurm_cluster.py: n1 and n2, each a slurmd in a network namespace of its
own, with its own hostname, reached over a bridge): a run whose 2 ranks span both nodes equals a local 2-rank run,
an ensemble's runs land on both nodes, and a weak-scaling study of 1 -> 2 nodes collects both points, each with
the hosts its ranks ran on."""
from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest
from helpers import mdrive, structure_set
from slurm_cluster import wait_for

pytestmark = pytest.mark.slurm
TIMING = ["steps_per_s", "wall_s"]


def ramp(src, *extra) -> list:
    return ["ramp", src, "--potential", "eam:Cu_u3.eam", "--ensemble", "nvt", "--duration", "1", "--t-stop", "900",
            *extra]


def submitted_and_local(tmp_path, env, args: list, job: list) -> tuple:
    """The study run here under `mpirun -np 2`, and submitted as a job of `job` options; both folders."""
    local, sub = tmp_path / "local", tmp_path / "sub"
    r = mdrive(*args, "--out", local, np=2, env=env)
    assert r.returncode == 0, r.stderr
    r = mdrive(*args, "--submit", "slurm", *job, "--job-time", "3min", "--out", sub, env=env)
    assert r.returncode == 0, r.stderr
    record = wait_for(lambda: (j := json.loads((sub / "jobs.json").read_text())).get("state") and j, 150,
                      "the job did not finish", env)
    assert record["state"].startswith("every run has a final verdict after 1 job"), record
    tables = [pd.read_csv(folder / "summary.csv").drop(columns=TIMING) for folder in (local, sub)]
    pd.testing.assert_frame_equal(*tables)
    return local, sub


def hosts_of(study) -> Counter:
    return Counter(json.loads(p.read_text())["hosts"] for p in study.glob("runs/*/outcome.json"))


def test_a_run_spans_both_nodes_and_equals_a_local_run(tmp_path, slurm_two_nodes):
    src = structure_set(tmp_path, 2, name="s{k}")
    _, sub = submitted_and_local(tmp_path, slurm_two_nodes, ramp(src, "--ranks-per-run", "2"),
                                 ["--ranks", "2", "--nodes", "2"])
    assert hosts_of(sub) == {"n1:1,n2:1": 2}
    for log in sub.glob("runs/*/worker.log"):
        text = log.read_text()
        assert "-hosts n1:1,n2:1 -launcher slurm" in text and "2 rank(s) running on n1:1,n2:1" in text, text
    assert "2-rank runs start on n1:1,n2:1" in (sub / "jobs" / "job-001" / "stderr.txt").read_text()
    assert "#SBATCH --nodes=2" in (sub / "jobs" / "job-001" / "job.slurm.sh").read_text()


def test_an_ensemble_spreads_its_runs_over_both_nodes(tmp_path, slurm_two_nodes):
    src = structure_set(tmp_path, 4, name="s{k}")
    _, sub = submitted_and_local(tmp_path, slurm_two_nodes, ramp(src), ["--ranks", "2", "--nodes", "2"])
    assert hosts_of(sub) == {"n1:1": 2, "n2:1": 2}  # one group of one rank per node, two runs each
    assert set(pd.read_csv(sub / "summary.csv")["status"]) == {"valid"}


@pytest.mark.parametrize("launcher", ["mpirun", "srun"])
def test_weak_scaling_from_one_node_to_two(tmp_path, slurm_two_nodes, launcher):
    out = tmp_path / "weak"
    r = mdrive("scaling", "plan", "--kind", "weak", "--potential", "eam/alloy:CuNi.eam.alloy", "--atoms-per-rank",
               "1000", "--ranks", "1,2", "--ranks-per-node", "1", "--steps", "100", "--warmup", "10", "--out", out,
               env=slurm_two_nodes)
    assert r.returncode == 0, r.stderr
    r = mdrive("scaling", "run", out, "--scheduler", "slurm", "--launcher", launcher, "--minutes", "5", "--wait",
               "120", env=slurm_two_nodes)
    assert r.returncode == 0 and r.stdout.count("completed (slurm job") == 2, r.stdout + r.stderr
    assert mdrive("scaling", "collect", out, env=slurm_two_nodes).returncode == 0
    table = pd.read_csv(out / "scaling.csv").set_index("ranks")
    assert list(table["status"]) == ["done", "done"] and list(table["nodes"]) == [1, 2]
    assert list(table["hosts"]) == ["n1:1", "n1:1,n2:1"]  # from each rank's own line in the job's ranks.txt
    assert 0 < table.loc[2, "efficiency"] < 2  # two "nodes" sharing two cores and a bridge: a sanity bound
