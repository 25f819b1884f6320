"""Verdicts of models computed in Python (the ASE bridge) that fail: an exception or a non-finite value is
never scored as physics LAMMPS went on with."""
from __future__ import annotations

import re

import pandas as pd
from ase.build import bulk
from helpers import ENV, ROOT, copper, mdrive, write_structures

from mdrive.logs import read_log


def test_a_model_that_raises_or_diverges_is_never_valid(tmp_path):
    """A model's exception cannot cross fix external's callback (LAMMPS would go on with zero forces, an ideal
    gas scored valid): the run ends at that step as an error with the exception's last line; non-finite
    output is `invalid` there. No row from that step on counts, and the other runs go on."""
    silicon = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)  # EMT has no Si: raises on its first call
    src = tmp_path / "set"
    src.mkdir()
    write_structures(src / "si64.extxyz", [silicon])
    write_structures(src / "cu.extxyz", [copper()])
    env = {**ENV, "PYTHONPATH": str(ROOT / "tests")}
    runs = {}
    for name, spec in (("raises", "ase:planted_models:Raises?calls=30"), ("nan", "ase:planted_models:NaNForces?calls=30"),
                       ("emt", "ase:ase.calculators.emt:EMT")):
        out = tmp_path / name
        r = mdrive("ramp", src if name == "emt" else src / "cu.extxyz", "--potential", spec, "--ensemble", "nvt",
                   "--duration", "0.1", "--out", out, env=env)
        assert r.returncode == 0, r.stderr
        runs[name] = pd.read_csv(out / "summary.csv").set_index("structure")
    si = runs["emt"].loc["si64"]
    assert si["status"] == "error" and si["steps_valid"] == 0
    assert si["cause"] == "the model raised at step 0: NotImplementedError: No EMT-potential for Si"
    assert runs["emt"].loc["cu", "status"] == "valid"  # the other run of the study is untouched

    raised = runs["raises"].loc["cu"]
    assert raised["status"] == "error", raised.to_dict()
    step = int(re.fullmatch(r"the model raised at step (\d+): RuntimeError: planted failure after 30 calls",
                            raised["cause"]).group(1))
    assert 0 < step <= 30 and raised["last_valid_step"] < step and raised["steps_valid"] < step
    diverged = runs["nan"].loc["cu"]
    assert diverged["status"] == "invalid" and diverged["cause"] == "non-finite model output"
    assert diverged["last_valid_step"] == raised["last_valid_step"]  # the same step, the same rows before it
    log = read_log(tmp_path / "raises" / "runs" / "cu-nvt" / "log.lammps")
    assert log.runs[-1].thermo["Step"].max() <= step < 50  # LAMMPS stopped there, not at the end of the ramp
