"""`mdrive evscan`: sound potentials give one minimum and Spearman -1/+1, an unphysical one is flagged,
and the metrics agree with a direct computation on synthetic curves."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from ase.build import bulk
from helpers import TRUSTED, copper, mdrive, morse_with_dip, write_structures
from scipy.stats import spearmanr

from mdrive.logs import read_log
from mdrive.protocols.evscan import curve_metrics


def scan(tmp_path, structures, potential, *extra, np_=None, env=None, status=0):
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    for name, atoms in structures.items():
        write_structures(src / f"{name}.extxyz", [atoms])
    out = tmp_path / "out"
    r = mdrive("evscan", src, "--potential", potential, "--out", out, *extra, np=np_, env=env)
    assert r.returncode == status, r.stderr
    return out, r


@pytest.mark.parametrize("potential,structures", [
    ("eam:Cu_u3.eam", {"cu-fcc": copper(2), "cu-bcc": bulk("Cu", "bcc", a=2.87, cubic=True).repeat(2)}),
    ("snap:Ta06A", {"ta-bcc": bulk("Ta", "bcc", a=3.31, cubic=True).repeat(2)}),
], ids=["eam", "snap"])
def test_sound_potentials_have_one_minimum(tmp_path, potential, structures):
    out, r = scan(tmp_path, structures, potential)
    table = pd.read_csv(out / "evscan.csv")
    assert list(table.columns) == ["structure", "n_atoms", "status", "cause", "failed", "sign_changes",
                                   "spearman_E_compression", "spearman_dEdV_compression"]
    assert (table["status"] == "valid").all()
    assert (~table["failed"]).all() and (table["sign_changes"] == 1).all()
    assert np.allclose(table["spearman_E_compression"], -1) and np.allclose(table["spearman_dEdV_compression"], 1)
    curves = pd.read_parquet(out / "curves.parquet")
    one = curves[curves["structure"] == table["structure"][0]]
    assert len(one) == 21 and one["volume_ratio"].min() == pytest.approx(0.8 ** 3, rel=1e-6)
    assert one["volume_ratio"].max() == pytest.approx(1.2 ** 3, rel=1e-6)
    # pressure falls as the compressed cell grows (under tension it may turn over past the largest
    # tensile stress), it is positive under compression and negative under tension, and the lowest
    # energy is near the equilibrium cell
    compressed = one[one["strain"] <= 0]
    assert compressed["pressure_gpa"].is_monotonic_decreasing
    assert one["pressure_gpa"].iloc[0] > 10 and one["pressure_gpa"].iloc[-1] < -1
    assert abs(one.loc[one["energy"].idxmin(), "strain"]) <= 0.04
    assert r.stdout.strip().startswith("EV scan: 0.0 % failures")


def test_unphysical_potential_flagged(tmp_path):
    potential = morse_with_dip(tmp_path, center=2.25, width=0.05, depth=1.0)
    out, r = scan(tmp_path, {"cu": copper(2)}, str(potential))
    row = pd.read_csv(out / "evscan.csv").iloc[0]
    assert row["failed"] and row["sign_changes"] >= 3
    assert "100.0 % failures" in r.stdout


@pytest.mark.mpi
def test_structures_spread_over_mpi_groups(tmp_path):
    structures = {f"cu{k}": copper(2) for k in range(3)}
    for k, atoms in enumerate(structures.values()):
        atoms.rattle(0.01, seed=k)
    out, _ = scan(tmp_path, structures, "eam:Cu_u3.eam", "--points", "7", np_=2)
    table = pd.read_csv(out / "evscan.csv")
    assert list(table["structure"]) == ["cu0", "cu1", "cu2"] and (~table["failed"]).all()


def direct(strain, energy):
    """The definitions computed the plain way, point by point."""
    volume = (1 + strain) ** 3
    slopes = [(energy[i + 1] - energy[i]) / (volume[i + 1] - volume[i]) for i in range(len(strain) - 1)]
    nonzero = [s for s in slopes if s != 0]
    changes = sum(1 for a, b in zip(nonzero, nonzero[1:]) if (a > 0) != (b > 0))
    comp = [i for i in range(len(strain)) if strain[i] < 0]
    mids = [(strain[i] + strain[i + 1]) / 2 for i in range(len(strain) - 1)]
    comp_slopes = [i for i in range(len(mids)) if mids[i] < 0]
    rho_e = spearmanr([strain[i] for i in comp], [energy[i] for i in comp]).statistic
    rho_d = spearmanr([mids[i] for i in comp_slopes], [slopes[i] for i in comp_slopes]).statistic
    return changes, rho_e, rho_d


@pytest.mark.parametrize("shape", ["one minimum", "two minima"])
def test_metrics_agree_with_direct_computation(shape):
    strain = np.linspace(-0.2, 0.2, 21)
    energy = (strain - 0.01) ** 2 if shape == "one minimum" else (strain ** 2 - 0.01) ** 2 + 0.0002 * strain
    got = curve_metrics(strain, energy, (1 + strain) ** 3)
    changes, rho_e, rho_d = direct(strain, energy)
    assert got["sign_changes"] == changes == (1 if shape == "one minimum" else 3)
    assert got["failed"] == (changes > 1)
    assert got["spearman_E_compression"] == pytest.approx(rho_e)
    assert got["spearman_dEdV_compression"] == pytest.approx(rho_d)
    if shape == "one minimum":
        assert got["spearman_E_compression"] == pytest.approx(-1) and got["spearman_dEdV_compression"] == pytest.approx(1)


def test_flat_and_nonfinite_curves():
    strain = np.linspace(-0.2, 0.2, 11)
    flat = curve_metrics(strain, np.zeros(11), (1 + strain) ** 3)
    assert flat["sign_changes"] == 0 and not flat["failed"]
    assert flat["spearman_E_compression"] is None and flat["spearman_dEdV_compression"] is None
    broken = curve_metrics(strain, np.r_[np.zeros(10), np.nan], (1 + strain) ** 3)
    assert broken["failed"]


@pytest.mark.parametrize("args,needle", [
    (["--strain", "0"], "--strain 0 is out of range: it must be above 0 and at most 0.9"),
    (["--strain", "-0.1"], "--strain -0.1 is out of range"),
    (["--points", "4"], "--points 4 is out of range: it must be at least 5"),
])
def test_bad_scan_options(tmp_path, args, needle):
    write_structures(tmp_path / "cu.extxyz", [copper(2)])
    r = mdrive("evscan", tmp_path / "cu.extxyz", "--potential", "eam:Cu_u3.eam", "--out", tmp_path / "o", *args)
    assert r.returncode == 2 and r.stderr.strip() == f"mdrive: {r.stderr.strip()[8:]}" and needle in r.stderr
    assert not (tmp_path / "o").exists()


def test_resume_keeps_finished_scans_and_report_rebuilds_them(tmp_path):
    out, r = scan(tmp_path, {"a": copper(2), "b": copper(3)}, "eam:Cu_u3.eam", "--points", "7")
    assert r.returncode == 0, r.stderr
    metrics = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/metrics.json")}
    table = (out / "evscan.csv").read_bytes()
    again = mdrive("evscan", tmp_path / "in", "--potential", "eam:Cu_u3.eam", "--points", "7", "--out", out, "--resume")
    assert again.returncode == 0, again.stderr
    assert len(metrics) == 2 and {p: p.stat().st_mtime_ns for p in out.glob("runs/*/metrics.json")} == metrics
    (out / "evscan.csv").unlink()
    assert mdrive("report", out).returncode == 0
    assert (out / "evscan.csv").read_bytes() == table


def test_time_limit_stops_between_points(tmp_path):
    """4001 points of 500 atoms take a minute or more; a 3 s budget ends the scan between two points, censored."""
    started = time.monotonic()
    out, r = scan(tmp_path, {"cu": copper(5)}, "eam:Cu_u3.eam", "--points", "4001", "--time-limit", "3",
                  status=3)  # stopped with the scan left to finish: --resume
    elapsed = time.monotonic() - started
    row = pd.read_csv(out / "evscan.csv").iloc[0]
    assert row["status"] == "censored" and row["cause"] == "wall-time limit", row
    done = len(read_log(out / "runs" / "cu" / "log.lammps").runs)
    assert 10 < done < 4001 and elapsed < 20, (done, elapsed)
    assert "no scan ran to a verdict" in r.stdout


def test_setup_errors_are_not_failures_of_the_potential(tmp_path):
    """A LAMMPS error before the first point (here a pair_coeff LAMMPS rejects once atoms exist, which the
    preflight on an empty box cannot see; a truncated file is refused before any run, test_bad_input)."""
    broken = tmp_path / "late.yaml"
    broken.write_text("pair_style: lj/cut 6.0\npairs:\n  Cu-Cu: 0.4093 2.338\nelements: [Cu]\ncommands:\n"
                      "  - 'if \"$(atoms) > 0\" then \"pair_coeff 1 1 bogus\"'\n")
    out, r = scan(tmp_path, {"cu": copper(2)}, str(broken), env=TRUSTED)
    row = pd.read_csv(out / "evscan.csv").iloc[0]
    assert row["status"] == "error" and pd.isna(row["failed"]) and "%" not in r.stdout.splitlines()[-1]
    assert "1 set-up errors" in r.stdout
