"""`mdrive scaling`: plan -> run (local mpirun, 1 and 2 ranks, real LAMMPS) -> collect; PSI/J's Slurm script."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml
from helpers import mdrive

from mdrive import scheduler
from mdrive.protocols import scaling
from mdrive.structures import CANTOR_ELEMENTS, cantor


def test_cantor_cells_are_equimolar_random_and_deterministic():
    a, b, c = cantor(4000), cantor(4000), cantor(4000, seed=7)
    assert len(a) == 4000 and list(a.cell.lengths()) == pytest.approx([36.0] * 3)
    counts = pd.Series(a.get_chemical_symbols()).value_counts()
    assert set(counts.index) == set(CANTOR_ELEMENTS) and (counts == 200).all()
    assert a.get_chemical_symbols() == b.get_chemical_symbols() != c.get_chemical_symbols()


@pytest.mark.mpi
@pytest.mark.parametrize("kind,size", [("weak", ["--atoms-per-rank", "1000"]), ("strong", ["--atoms", "2000"])])
def test_plan_run_collect_on_one_and_two_ranks(tmp_path, kind, size):
    out = tmp_path / "study"
    r = mdrive("scaling", "plan", "--kind", kind, "--potential", "eam/alloy:CuNi.eam.alloy", *size,
               "--ranks", "1,2", "--steps", "100", "--warmup", "20", "--out", out)
    assert r.returncode == 0, r.stderr
    study = yaml.safe_load((out / "study.yaml").read_text())
    atoms = [p["atoms"] for p in study["points"]]
    assert atoms == ([1000, 2000] if kind == "weak" else [2000, 2000])
    assert study["elements"] == ["Ni", "Cu"] and 6.0 < study["neighbor_cutoff"] < 9.0  # EAM cutoff + skin
    first = mdrive("scaling", "run", out)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("ran locally") == 2
    again = mdrive("scaling", "run", out)  # idempotent: nothing runs twice
    assert again.stdout.count("already done, skipped") == 2 and "ran locally" not in again.stdout
    assert mdrive("scaling", "collect", out).returncode == 0
    table = pd.read_csv(out / "scaling.csv").set_index("ranks")
    assert list(table["status"]) == ["done", "done"] and list(table["steps"]) == [100, 100]
    # the Performance line agrees with the loop time and the atom count
    assert table["timesteps_per_s"].to_numpy() == pytest.approx(100 / table["loop_time_s"].to_numpy(), rel=0.01)
    assert table["katom_step_per_s"].to_numpy() == pytest.approx(
        table["atoms"].to_numpy() * table["timesteps_per_s"].to_numpy() / 1e3, rel=0.01)
    t1, t2 = table.loc[1, "seconds_per_step"], table.loc[2, "seconds_per_step"]
    expected = t1 / t2 if kind == "weak" else t1 / (2 * t2)
    assert table.loc[1, "efficiency"] == 1.0 and table.loc[2, "efficiency"] == pytest.approx(expected)
    fractions = table[[c for c in table if c.endswith("_fraction")]].sum(axis=1)
    assert fractions.to_numpy() == pytest.approx([1.0, 1.0], abs=0.02)  # the MPI timing table's % total
    assert table.loc[1, "pair_fraction"] > 0.5 and table.loc[1, "comm_fraction"] < table.loc[2, "comm_fraction"]
    assert (out / "scaling.png").stat().st_size > 10_000


def test_slurm_script_from_psij_carries_the_kokkos_launch(tmp_path):
    out = tmp_path / "gpu"
    r = mdrive("scaling", "plan", "--kind", "weak", "--potential", "snap:W_2940_2017_2", "--atoms-per-rank", "4000",
               "--ranks", "4,8", "--gpus-per-node", "4", "--out", out)
    assert r.returncode == 0, r.stderr
    study = scaling.ScalingStudy.load(out)
    point = study.points[1]
    assert (point.ranks, point.nodes) == (8, 2)
    args = study.launch[point.name]
    assert args[:12] == ["-in", "in.lammps", "-log", "log.lammps", "-k", "on", "g", "4", "-sf", "kk", "-pk", "kokkos"]
    request = scaling.request(point, "slurm", {"queue": "gpu", "account": "mat123", "minutes": 45, "launcher": "srun"})
    command = scaling.command(out / "jobs" / point.name, point, args, {"OMP_NUM_THREADS": "1"})
    script = scheduler.script(request, scheduler.job(request, command), tmp_path / "psij")
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --gpus-per-task=1",
                 "#SBATCH --time=0:45:0", '#SBATCH --partition="gpu"', '#SBATCH --account="mat123"',
                 "export OMP_NUM_THREADS=1"):
        assert line in script, line
    assert "-in in.lammps" in script and "-k on g 4 -sf kk -pk kokkos" in script and "srun" in script


@pytest.mark.parametrize("argv,needle", [
    (["--kind", "weak", "--atoms-per-rank", "1000", "--ranks", "2,1"], "must be positive and strictly increasing"),
    (["--kind", "weak", "--atoms-per-rank", "20", "--ranks", "1,2"], "atoms per rank is below"),
    (["--kind", "strong", "--ranks", "1,2"], "a strong study needs --atoms"),
])
def test_bad_plans_get_one_line(tmp_path, argv, needle):
    r = mdrive("scaling", "plan", "--potential", "eam/alloy:CuNi.eam.alloy", *argv, "--out", tmp_path / "s")
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_unknown_scheduler_is_refused(tmp_path):
    out = tmp_path / "s"
    assert mdrive("scaling", "plan", "--kind", "weak", "--potential", "eam/alloy:CuNi.eam.alloy",
                  "--atoms-per-rank", "500", "--ranks", "1", "--out", out).returncode == 0
    r = mdrive("scaling", "run", out, "--scheduler", "condor")
    assert r.returncode == 2 and "--scheduler condor is unknown" in r.stderr


def test_a_run_logged_on_other_ranks_than_planned_is_a_wrong_launch(tmp_path, cu_file):
    """The verdict checks the log's "on N procs" against the ranks the run was given (outcome.json)."""
    from mdrive import jobs, protocol
    from mdrive.jobs import read_outcome

    out = tmp_path / "out"
    assert mdrive("ramp", cu_file, "--potential", "eam:Cu_u3.eam", "--ensemble", "nvt", "--duration", "1",
                  "--out", out).returncode == 0
    run_dir = next((out / "runs").iterdir())
    said, info = read_outcome(run_dir), yaml.safe_load((run_dir / "run.json").read_text())
    analyze = protocol.get("ramp").analyze
    assert said["ranks"] == 1 and jobs.verdict(analyze, run_dir, info, said)["status"] == "valid"
    wrong = jobs.verdict(analyze, run_dir, info, {**said, "ranks": 2})
    assert wrong["status"] == "error" and wrong["cause"].startswith("wrong launch: the log ran on 1 procs, 2 were")


@pytest.mark.parametrize("name,lines", [
    ("pbs", ["#PBS -l select=2:ncpus=2:mpiprocs=2", "#PBS -l walltime=1:30:0", "#PBS -q batch", "#PBS -A mat1",
             '#PBS -W "depend=afterany:123"']),
    ("lsf", ["#BSUB -nnodes 2", "#BSUB -n 4", "#BSUB -W 1:30", '#BSUB -q "batch"', '#BSUB -P "mat1"', "ended(123)"]),
])
def test_pbs_and_lsf_scripts_of_a_follow_up_job(tmp_path, name, lines):
    """A follow-up job of a --submit chain, as PSI/J renders it: 4 ranks on 2 nodes, 90 min, after job 123."""
    request = scheduler.Request(name, 4, 2, 0, 90, "batch", "mat1", "mpirun")
    command = scheduler.Command("/usr/bin/python3", ["-m", "mdrive", "ramp"], tmp_path, {"OMP_NUM_THREADS": "1"})
    job = scheduler.job(request, command, after="123")
    script = scheduler.script(request, job, tmp_path / "psij")
    for line in lines:
        assert line in script, line
    assert "-m mdrive ramp" in script
