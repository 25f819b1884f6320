"""`mdrive ramp` with real LAMMPS: targets tracked, planted failures classified, resume, report, hand runs."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from helpers import (
    ENV,
    LMP,
    MPIRUN,
    ROOT,
    collapsing_pair_potential,
    copper,
    mdrive,
    morse_with_dip,
    structure_set,
    write_structures,
)

from mdrive.logs import read_log

TIMING = ["steps_per_s", "wall_s"]
# the every-step volume rule (validity.in) usually halts a blow-up first
EXPLOSION = {"neighbor list overflow", "non-numeric pressure or box", "lost atoms", "non-finite thermo",
             "volume outside [0.1, 10] V0"}


def summary(out):
    return pd.read_csv(out / "summary.csv").drop(columns=TIMING)


def ramp_thermo(run_dir):
    return read_log(run_dir / "log.lammps").runs[-1].thermo


def test_nvt_temperature_tracks_the_ramp(tmp_path, cu_file):
    out = tmp_path / "out"
    r = mdrive("ramp", cu_file, "--potential", "eam:Cu_u3.eam", "--ensemble", "nvt", "--duration", "2",
               "--t-stop", "1200", "--out", out)
    assert r.returncode == 0, r.stderr
    thermo = ramp_thermo(out / "runs" / "cu-nvt")
    target = 300 + (1200 - 300) * thermo["Step"] / 1000
    late = thermo["Step"] > 100
    assert np.mean(np.abs(thermo["Temp"][late] - target[late]) / target[late]) < 0.1
    assert thermo["Volume"].nunique() == 1  # NVT: the cell does not move
    row = summary(out).iloc[0]
    assert row["status"] == "valid" and row["steps_valid"] == row["steps_target"] == 1000
    assert "NVT: 100.0 % of scheduled timesteps completed" in r.stdout.splitlines()[-1]


def test_npt_pressure_tracks_the_ramp(tmp_path, cu_file):
    out = tmp_path / "out"
    r = mdrive("ramp", cu_file, "--potential", "eam:Cu_u3.eam", "--ensemble", "npt", "--duration", "4",
               "--t-stop", "600", "--p-stop", "30", "--pdamp", "500fs", "--out", out)
    assert r.returncode == 0, r.stderr
    thermo = ramp_thermo(out / "runs" / "cu-npt")
    target_bar = 30e4 * thermo["Step"] / 2000
    late = thermo["Step"] > 1000
    mean_gap_gpa = np.mean(thermo["Press"][late] - target_bar[late]) / 1e4
    assert abs(mean_gap_gpa) < 2.0
    v0, v1 = thermo["Volume"].iloc[0], thermo["Volume"].iloc[-20:].mean()
    assert 0.80 < v1 / v0 < 0.93  # copper loses ~12 % of its volume at 30 GPa
    deck = (out / "runs" / "cu-npt" / "in.lammps").read_text()
    assert "variable p_stop index 300000.0" in deck  # GPa -> bar


@pytest.mark.mpi
def test_planted_instability_classified_under_mpi(tmp_path):
    # MP-ALOE's thresholds are loose: an atom planted 0.6 Å from another is absorbed by the thermostat
    # with every shipped potential. So the planted failure is a deliberately wrong potential whose Cu–Ag
    # pair collapses: only the structure holding an Ag atom blows up.
    potential = collapsing_pair_potential(tmp_path)
    good = copper()
    bad = good.copy()
    bad.symbols[0] = "Ag"
    src = tmp_path / "s"
    src.mkdir()
    write_structures(src / "a.extxyz", [good])
    write_structures(src / "b.extxyz", [bad])
    write_structures(src / "c.extxyz", [good])
    out = tmp_path / "out"
    r = mdrive("ramp", src, "--potential", potential, "--ensemble", "nvt", "--duration", "1",
               "--out", out, "--ranks-per-run", "1", np=2)
    assert r.returncode == 0, r.stderr
    table = summary(out).set_index("structure")
    assert list(table["status"]) == ["valid", "invalid", "valid"]
    assert table.loc["b", "cause"] in ("lost atoms", "non-finite thermo", "energy drift > 100 eV/atom")
    assert table.loc["b", "steps_valid"] < table.loc["b", "steps_target"]
    # the invalid frame ended the run at once (fix halt), within one thermo interval
    assert ramp_thermo(out / "runs" / "b-nvt")["Step"].iloc[-1] <= table.loc["b", "steps_valid"] + 10
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["mpi_ranks"] == 2 and manifest["parameters"]["seed"] == 12345
    assert manifest["headline"]["nvt"]["invalid"] == 1


def _set(tmp_path, n=6):
    return structure_set(tmp_path, n, name="s{k}")


@pytest.mark.mpi
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, sig):
    src = _set(tmp_path)
    args = ["ramp", str(src), "--potential", "eam:Cu_u3.eam", "--duration", "3", "--t-stop", "1000"]
    cmd = [str(MPIRUN), "-np", "2", sys.executable, "-m", "mdrive", *args]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--out", str(killed)], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(killed.glob("runs/*/metrics.json"))) < 3:
        time.sleep(0.05)
    import os
    os.killpg(proc.pid, sig)  # the whole job, as a scheduler would
    proc.wait(timeout=60)
    done = len(list(killed.glob("runs/*/metrics.json")))
    assert 3 <= done < 12, "the interruption came too late to test anything"
    r = mdrive(*args, "--out", killed, "--resume", np=2)
    assert r.returncode == 0, r.stderr
    full = tmp_path / "full"
    assert mdrive(*args, "--out", full, np=2).returncode == 0
    resumed, whole = summary(killed), summary(full)
    # At 500 GPa every NPT run blows up. Which LAMMPS error fires first inside a blow-up rides on round-off
    # (CI once saw "non-numeric pressure or box" for one run and "neighbor list overflow" for its twin), so
    # exploded runs must agree on status and on the last valid frame, and the valid ones on everything.
    blown = whole["status"] == "invalid"
    assert blown.sum() == 6 and set(whole.loc[blown, "cause"]) <= EXPLOSION
    assert set(resumed.loc[blown, "cause"]) <= EXPLOSION
    pd.testing.assert_frame_equal(resumed.drop(columns=["cause", "temp_at_end", "press_at_end"]),
                                  whole.drop(columns=["cause", "temp_at_end", "press_at_end"]))
    pd.testing.assert_frame_equal(resumed[~blown], whole[~blown])


def test_report_rebuilds_from_logs(tmp_path, cu_file):
    out = tmp_path / "out"
    assert mdrive("ramp", cu_file, "--potential", "eam:Cu_u3.eam", "--duration", "0.5", "--out", out).returncode == 0
    before = summary(out)
    for name in ("summary.csv", "survival.csv", "survival.png"):
        (out / name).unlink()
    for metrics in out.glob("runs/*/metrics.json"):
        metrics.unlink()
    r = mdrive("report", out)
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(before, summary(out))
    survival = pd.read_csv(out / "survival.csv")
    assert set(survival["ensemble"]) == {"nvt", "npt"} and (out / "survival.png").stat().st_size > 10_000


def test_composed_deck_runs_by_hand_with_identical_thermo(tmp_path, cu_file):
    out = tmp_path / "out"
    assert mdrive("ramp", cu_file, "--potential", "eam:Cu_u3.eam", "--ensemble", "npt", "--duration", "0.4",
                  "--out", out).returncode == 0
    run_dir = out / "runs" / "cu-npt"
    subprocess.run([str(LMP), "-in", "in.lammps", "-log", "hand.log", "-screen", "none"], cwd=run_dir,
                   env=ENV, check=True)
    ours, hand = read_log(run_dir / "log.lammps"), read_log(run_dir / "hand.log")
    assert len(ours.runs) == len(hand.runs) == 2
    pd.testing.assert_frame_equal(ours.runs[-1].thermo, hand.runs[-1].thermo)


def test_stop_hook_adds_no_energy_or_virial():
    """The stop hook's `fix external` stays out of the energy and the pressure (fix_modify in
    inputs/mdrive-hooks.in): LAMMPS leaves that fix's global virial uninitialised (valgrind), and heap
    garbage there once stopped an NPT run at set-up. A virial and an energy planted on the fix must not show."""
    from mdrive.runtime import new_lammps

    thermo = {}
    for hooked in (False, True):
        lmp = new_lammps(variables={"thermo_every": 10})
        lmp.commands_string("units metal\nlattice fcc 3.615\nregion b block 0 3 0 3 0 3\ncreate_box 1 b\n"
                            "create_atoms 1 box\nmass 1 63.55\npair_style eam\npair_coeff * * Cu_u3.eam\n"
                            "velocity all create 300 7\nfix md all npt temp 300 300 0.1 iso 0 0 1.0\nthermo 10")
        if hooked:
            lmp.command(f"include {ROOT / 'inputs' / 'mdrive-hooks.in'}")

            def plant(*_):
                lmp.fix_external_set_virial_global("mdrive_hook", [1e5] * 6)
                lmp.fix_external_set_energy_global("mdrive_hook", 1e3)
            lmp.set_fix_external_callback("mdrive_hook", plant)
        lmp.command("run 20")
        thermo[hooked] = (lmp.get_thermo("press"), lmp.get_thermo("pe"), lmp.get_thermo("vol"))
        lmp.close()
    assert thermo[True] == pytest.approx(thermo[False], rel=1e-12, abs=0), thermo


def test_time_limit_censors_instead_of_failing(tmp_path, cu_file):
    out = tmp_path / "out"
    r = mdrive("ramp", cu_file, "--potential", "eam:Cu_u3.eam",
               "--ensemble", "nvt", "--duration", "400", "--time-limit", "3", "--out", out)
    assert r.returncode == 3, r.stderr  # stopped with a run left to finish: --resume
    row = summary(out).iloc[0]
    assert row["status"] == "censored" and row["cause"] == "wall-time limit"
    assert 0 < row["steps_valid"] < row["steps_target"]
    assert r.stdout.strip() == "NVT: no uncensored runs to score (1 censored)"


@pytest.mark.mpi
def test_one_rank_error_in_a_multi_rank_run_loses_nothing(tmp_path):
    """A tabulated potential starting at 1.5 Å and a structure with two atoms 1.0 Å apart: LAMMPS raises
    "Pair distance < table inner cutoff" on the one rank that owns the pair (error->one), which leaves
    the run's other rank blocked. The run's own MPI world is ended (mdrive.worker), the run recorded, and
    the ensemble goes on: every run finishes in one invocation, exit 0."""
    potential = morse_with_dip(tmp_path, center=3.0, width=0.1, depth=0.0, r_min=1.5)
    src = tmp_path / "set"
    src.mkdir()
    for k in range(3):
        write_structures(src / f"s{k}.extxyz", [copper()])
    bad = copper()
    bad.positions[1] = bad.positions[0] + [1.0, 0, 0]
    write_structures(src / "s1.extxyz", [bad])
    out = tmp_path / "out"
    args = ["ramp", src, "--potential", potential, "--ensemble", "nvt", "--duration", "0.2",
            "--ranks-per-run", "2", "--out", out]
    r = mdrive(*args, np=2, timeout=300)
    assert r.returncode == 0, r.stderr
    final = pd.read_csv(out / "summary.csv").set_index("structure")
    assert final.loc["s1", "status"] == "invalid" and final.loc["s1", "cause"] == "atoms too close"
    assert list(final["status"]) == ["valid", "invalid", "valid"]
