"""The fault catalogue: a 20-run ensemble with 4 planted failures loses none of the other 16 results, under
mpirun -np 2 with 1 and 2 ranks per run, and never hangs (the subprocess timeout is the watchdog)."""
from __future__ import annotations

import pandas as pd
import pytest
from helpers import collapsing_pair_potential, copper, mdrive, structure_set

WATCHDOG_S = 300


def planted_set(folder):
    overlap = copper()
    overlap.positions[1] = overlap.positions[0] + [0.3, 0, 0]  # caught up front: atoms overlap
    iron = copper()
    iron.symbols[0] = "Fe"  # caught up front: the potential has no Fe
    explodes = copper()
    explodes.symbols[0] = "Ag"  # the potential's Cu–Ag pair collapses: the run blows up
    crash = copper()
    crash.positions[1] = crash.positions[0] + [0.6, 0, 0]  # LJ at 0.6 Å: atoms shot out, LAMMPS errors mid-run
    return structure_set(folder, 16, {"overlap": overlap, "iron": iron, "explodes": explodes, "crash": crash})


@pytest.mark.mpi
@pytest.mark.parametrize("ranks_per_run", ["1", "2"])
def test_planted_failures_leave_the_other_16_complete(tmp_path, ranks_per_run):
    src = planted_set(tmp_path)
    potential = collapsing_pair_potential(tmp_path)
    out = tmp_path / "out"
    r = mdrive("ramp", src, "--potential", potential, "--ensemble", "nvt", "--duration", "1", "--skip-bad",
               "--ranks-per-run", ranks_per_run, "--out", out, np=2, timeout=WATCHDOG_S)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out / "summary.csv").set_index("structure")
    assert len(table) == 20
    good = table[table.index.str.startswith("good")]
    assert (good["status"] == "valid").all() and (good["steps_valid"] == good["steps_target"]).all()
    assert table.loc["overlap", "status"] == "error" and "0.300 Å apart" in table.loc["overlap", "cause"]
    assert table.loc["iron", "status"] == "error" and "has Fe" in table.loc["iron", "cause"]
    for name in ("explodes", "crash"):
        assert table.loc[name, "status"] == "invalid"
        assert table.loc[name, "cause"] in ("lost atoms", "non-finite thermo", "energy drift > 100 eV/atom",
                                            "max atom KE >= 100 eV", "non-numeric coordinates")
    assert "NVT: 80.0 % of scheduled timesteps completed" in r.stdout


def test_without_skip_bad_one_bad_structure_stops_everything_up_front(tmp_path):
    src = planted_set(tmp_path)
    r = mdrive("ramp", src, "--potential", collapsing_pair_potential(tmp_path), "--ensemble", "nvt",
               "--out", tmp_path / "out")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "iron" not in r.stdout
    assert not (tmp_path / "out").exists()
