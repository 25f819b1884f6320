"""The GPU check: on a machine with a GPU and a Kokkos GPU build of LAMMPS, a short ramp through every
potential the build runs, on the GPU (--gpus 1) and on the CPU, must give the same energies. Skips
cleanly elsewhere (CI has no GPU). More potentials: MDRIVE_GPU_POTENTIALS="mace:m.model-lammps.pt,...".
"""
from __future__ import annotations

import os

import pandas as pd
import pytest
from helpers import copper, mdrive, write_structures

from mdrive.logs import read_log
from mdrive.runtime import build

pytestmark = pytest.mark.gpu
KOKKOS_GPU = any(b.upper() in ("CUDA", "HIP", "SYCL") for b in build().kokkos_backends()) and build().has_gpu_device
SPECS = ["eam:Cu_u3.eam", "eam/alloy:CuNi.eam.alloy"] + [
    s for s in os.environ.get("MDRIVE_GPU_POTENTIALS", "").split(",") if s]


@pytest.mark.skipif(not KOKKOS_GPU, reason="needs a Kokkos GPU build of LAMMPS and a visible GPU (none here)")
@pytest.mark.parametrize("spec", SPECS)
def test_gpu_ramp_matches_cpu(tmp_path, spec):
    src = write_structures(tmp_path / "cu.extxyz", [copper(4)])
    runs = {}
    for label, extra in (("cpu", []), ("gpu", ["--gpus", "1"])):
        out = tmp_path / label
        r = mdrive("ramp", src, "--potential", spec, "--ensemble", "nvt", "--duration", "0.2", "--out", out, *extra)
        assert r.returncode == 0, r.stderr
        runs[label] = read_log(out / "runs" / "cu-nvt" / "log.lammps").runs[-1].thermo
    cpu, gpu = runs["cpu"], runs["gpu"]
    assert gpu["PotEng"].iloc[0] == pytest.approx(cpu["PotEng"].iloc[0], rel=1e-10)  # same forces at step 0
    pd.testing.assert_series_equal(gpu["PotEng"].iloc[:5], cpu["PotEng"].iloc[:5], rtol=1e-6)
