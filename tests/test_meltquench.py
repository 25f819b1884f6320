"""`mdrive meltquench` with real LAMMPS and OVITO: schedules, stage potentials, the a-Si and a-C physics."""
from __future__ import annotations

import ctypes.util
import json

import ase.io
import numpy as np
import pandas as pd
import pytest
from ase.build import bulk
from helpers import mdrive, write_structures

from mdrive.errors import InputError
from mdrive.metrics import glass_transition
from mdrive.protocols.schedule import parse

SW_DIAMOND = -4.3366  # eV/atom: Stillinger–Weber Si's diamond cohesive energy (-epsilon x 2.0 x ...)
TERSOFF_DIAMOND = -4.63  # eV/atom: Tersoff (1988) Si, diamond
VULKAN = ctypes.util.find_library("vulkan") is not None


def test_schedule_strings_and_yaml_agree(tmp_path):
    text = "nvt:8000K:3ps, nvt:8000K->300K@1000K/ps, npt:300K:500fs:1bar->2GPa:dt=0.5fs, min:0GPa, nve:1ps"
    stages = parse(text)
    assert [s.ensemble for s in stages] == ["nvt", "nvt", "npt", "min", "nve"]
    assert stages[1].duration == pytest.approx(7.7) and stages[1].steps(0.001) == 7700
    assert stages[2].p_start == pytest.approx(1e-4) and stages[2].p_stop == 2.0 and stages[2].steps(0.001) == 1000
    assert stages[3].p_start == 0.0 and not stages[3].is_md
    assert parse(", ".join(s.text() for s in stages)) == stages  # the canonical text reads back the same
    yaml = tmp_path / "s.yaml"
    yaml.write_text("stages:\n  - nvt:8000K:3ps\n  - {ensemble: nvt, temp: [8000, 300], rate: 1000}\n"
                    "  - {ensemble: npt, temp: 300, duration: 0.5, pressure: [0.0001, 2], dt: 0.5fs}\n"
                    "  - {ensemble: min, pressure: 0}\n  - {ensemble: nve, duration: 1}\n")
    assert parse(str(yaml)) == stages
    with_pot = parse("nvt:9000K:40ps:pot=tersoff:SiC.tersoff")[0]
    assert with_pot.potential == "tersoff:SiC.tersoff" and with_pot.steps(0.001) == 40000


@pytest.mark.parametrize("text,needle", [
    ("nvt:300K", "stage 1 'nvt:300K': needs a duration"),
    ("min, nvt:300K->100K@0K/ps", "stage 2 'nvt:300K->100K@0K/ps': a rate @R K/ps needs a ramp"),
    ("nve:300K:1ps", "nve takes no temperature"),
    ("npt:300K:1ps, min:2ps", "stage 2 'min:2ps': a minimisation takes no duration"),
    ("nvt:300K:1ps:3ps", "gives a second duration"),
    ("nvt:-5K:1ps", "temperatures must be positive"),
    ("md:300K:1ps", "starts with 'md'"),
])
def test_a_broken_stage_is_named(text, needle):
    with pytest.raises(InputError, match=None) as err:
        parse(text)
    assert needle in str(err.value)


def test_glass_transition_finds_a_planted_kink():
    rng = np.random.default_rng(7)
    temp = np.linspace(1400, 300, 4000) + rng.normal(0, 15, 4000)  # a thermostat's noise on T
    density = np.where(temp < 800, 2.30 - 1e-5 * (temp - 800), 2.30 - 8e-5 * (temp - 800))
    fit = glass_transition(temp, density + rng.normal(0, 0.002, 4000))
    assert abs(fit["tg"] - 800) < 40 and fit["sse_ratio"] < 0.1
    assert fit["slope_above"] == pytest.approx(-8e-5, rel=0.1)
    straight = glass_transition(temp, 2.3 - 5e-5 * temp + rng.normal(0, 0.002, 4000))
    assert straight["sse_ratio"] > 0.5  # no kink: two lines explain little more than one
    assert glass_transition([1, 2, 3], [1, 2, 3]) is None


@pytest.mark.mpi
def test_quick_si_quench_two_replicas_over_mpi(tmp_path):
    out = tmp_path / "out"
    r = mdrive("meltquench", "--potential", "sw:Si.sw", "--element", "Si", "--atoms", "64", "--density", "2.33",
               "--schedule", "nvt:3000K:3ps, npt:3000K->300K@500K/ps, min:0GPa", "--replicas", "2",
               "--thermo-every", "50", "--out", out, np=2)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out / "structure.csv")
    runs = table[table["replica"].notna()].set_index("run")
    assert list(runs["status"]) == ["valid", "valid"] and list(runs["seed"]) == [12345, 12346]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["headline"]["reference_crystal_energy_per_atom"] == pytest.approx(SW_DIAMOND, abs=1e-3)
    starts = {k: v["sha256"] for k, v in manifest["structures"].items() if k != "reference-crystal"}
    assert len(set(starts.values())) == 2  # each replica its own random packing
    for name, row in runs.iterrows():
        assert 2.2 < row["density_g_cm3"] < 2.75  # amorphous/liquid-like SW Si, relaxed at 0 GPa
        assert 3.8 < row["cn_mean"] < 5.0 and 0.2 < row["cn4_fraction"] <= 1.0
        assert 0.05 < row["excess_energy_per_atom"] < 0.5  # above diamond, below the liquid
        assert row["excess_energy_per_atom"] == pytest.approx(row["final_energy_per_atom"] - SW_DIAMOND, abs=1e-3)
        final = ase.io.read(out / "runs" / name / "final.extxyz")
        mass = final.get_masses().sum() * 1.66053907e-24
        assert len(final) == 64 and mass / (final.get_volume() * 1e-24) == pytest.approx(row["density_g_cm3"])
        assert (out / "runs" / name / "snapshot.png").exists() == VULKAN
    mean = table.set_index("run").loc["Si64-random-2.33gcc (mean)"]
    assert mean["cn4_fraction"] == pytest.approx(runs["cn4_fraction"].mean())
    trace = pd.read_csv(out / "stages.csv")
    assert sorted(trace["stage"].unique()) == [1, 2, 3]
    quench = trace[(trace["stage"] == 2) & (trace["run"] == runs.index[0])]
    target = 3000 - 500 * (quench["time_ps"] - quench["time_ps"].iloc[0])
    assert np.mean(np.abs(quench["temp"] - target) / target) < 0.15  # T follows the quench
    relaxed = trace[trace["stage"] == 3].groupby("run").tail(1)
    assert np.all(np.abs(relaxed["press_gpa"]) < 0.3)  # min:0GPa relaxed the cell too
    if not VULKAN:
        assert "no snapshot picture" in r.stderr
    for name in ("traces.png", "coordination.png"):
        assert (out / name).stat().st_size > 10_000


def test_sp3_fraction_rises_with_density_tersoff_carbon(tmp_path):
    # the a-C preset (8000 K melt, 1000 K/ps quench, minimised) on 100-atom random starts
    sp3 = {}
    for rho in ("2.0", "3.2"):
        out = tmp_path / rho
        r = mdrive("meltquench", "--preset", "a-c", "--potential", "tersoff:SiC.tersoff", "--atoms", "100",
                   "--start", "random", "--r-min", "1.2", "--density", rho, "--out", out)
        assert r.returncode == 0, r.stderr
        row = pd.read_csv(out / "structure.csv").iloc[0]
        assert row["status"] == "valid" and row["density_g_cm3"] == pytest.approx(float(rho))
        assert row["sp_fraction"] + row["sp2_fraction"] + row["sp3_fraction"] <= 1.0 + 1e-12
        sp3[rho] = row["sp3_fraction"]
        if rho == "2.0":
            assert row["sp2_fraction"] > 0.5  # low-density a-C is mostly threefold
    assert sp3["3.2"] > sp3["2.0"] + 0.1


def test_a_stage_switches_potential_and_back(tmp_path):
    src = write_structures(tmp_path / "si.extxyz", [bulk("Si", "diamond", a=5.431, cubic=True).repeat(2)])
    out = tmp_path / "out"
    r = mdrive("meltquench", src, "--potential", "sw:Si.sw", "--thermo-every", "10",
               "--schedule", "min, min:pot=tersoff:Si.tersoff, nvt:300K:0.1ps", "--out", out)
    assert r.returncode == 0, r.stderr
    trace = pd.read_csv(out / "stages.csv")
    last = trace.groupby("stage").tail(1).set_index("stage")["pe_per_atom"]
    assert last[1] == pytest.approx(SW_DIAMOND, abs=1e-3)
    assert last[2] == pytest.approx(TERSOFF_DIAMOND, abs=0.01)
    assert trace[trace["stage"] == 3]["pe_per_atom"].iloc[0] == pytest.approx(SW_DIAMOND, abs=1e-3)
    run = out / "runs" / "si-r0"
    assert "pair_style tersoff" in (run / "potential-2.in").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage_potentials"][0]["spec"] == "tersoff:Si.tersoff"
    assert manifest["stages"] == ["min", "min:pot=tersoff:Si.tersoff", "nvt:300K:0.1ps"]


def test_headline_with_one_replica_has_no_spread():
    from mdrive.protocols.meltquench import headline_text

    text = headline_text({"Si64": {"replicas_valid": 1, "density_g_cm3": [2.3, None], "tg_k": [700.0, None]},
                          "runs": {"valid": 1}})
    assert "density 2.3 g/cm³" in text and "Tg 700 K" in text and "±" not in text


def test_report_rebuilds_a_meltquench_folder(tmp_path):
    out = tmp_path / "out"
    assert mdrive("meltquench", "--potential", "sw:Si.sw", "--element", "Si", "--atoms", "64", "--density", "2.33",
                  "--schedule", "nvt:2500K:0.5ps, nvt:2500K->500K@4000K/ps, min", "--thermo-every", "50",
                  "--out", out).returncode == 0
    before = pd.read_csv(out / "structure.csv")
    for name in ("structure.csv", "stages.csv", "traces.png"):
        (out / name).unlink()
    r = mdrive("report", out)
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(pd.read_csv(out / "structure.csv"), before)
    assert (out / "stages.csv").exists() and (out / "traces.png").exists()


def test_graphitization_preset_runs_its_melt_stages_on_the_melt_potential(tmp_path):
    out = tmp_path / "out"
    r = mdrive("meltquench", "--preset", "graphitization", "--potential", "tersoff:SiC.tersoff", "--melt-potential",
               "tersoff:BNC.tersoff", "--atoms", "64", "--anneal", "3000", "--time-limit", "3", "--out", out)
    assert r.returncode == 3, r.stderr  # stopped by --time-limit with the run censored
    run = out / "runs" / "C64-random-1.5gcc-r0"
    stages = (run / "stages.in").read_text()
    assert stages.count("include         potential-2.in") == 1 and stages.count("include         ${potential}") == 1
    assert stages.index("potential-2.in") < stages.index("# stage 1") + 200 < stages.index("${potential}")
    assert "# stage 6: nvt:3000K:350ps (350000 steps of 1 fs)" in stages
    assert "BNC.tersoff" in (run / "potential-2.in").read_text()
    assert json.loads((run / "metrics.json").read_text())["status"] == "censored"  # stopped by --time-limit
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"][0] == "nvt:9000K:40ps:pot=tersoff:BNC.tersoff"
