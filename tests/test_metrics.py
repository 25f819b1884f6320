"""Validity and survival metrics against direct computation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mdrive import metrics


def thermo(pe, ke=None, vol=None):
    n = len(pe)
    return pd.DataFrame({"Step": np.arange(n) * 10, "Temp": 300.0, "PotEng": pe, "Press": 0.0,
                         "Volume": vol if vol is not None else [1000.0] * n, "Atoms": 10,
                         "c_mdrive_kemax": ke if ke is not None else [0.1] * n})


def test_first_invalid_each_criterion():
    assert metrics.first_invalid(thermo([-30.0] * 5), -3.0, 1000.0) == (None, None)
    assert metrics.first_invalid(thermo([-30, -30, 980, -30.0]), -3.0, 1000.0) == (2, "energy drift > 100 eV/atom")
    assert metrics.first_invalid(thermo([-30, -30, 960, -30.0]), -3.0, 1000.0) == (None, None)  # 99.6 eV/atom
    assert metrics.first_invalid(thermo([-30.0] * 4, ke=[1, 1, 1, 100]), -3.0, 1000.0) == (3, "max atom KE >= 100 eV")
    assert metrics.first_invalid(thermo([-30.0] * 4, vol=[1000, 99, 1000, 1000]), -3.0, 1000.0)[1] == \
        "volume outside [0.1, 10] V0"
    assert metrics.first_invalid(thermo([-30.0] * 3, vol=[1000, 1000, 10001]), -3.0, 1000.0)[0] == 2
    assert metrics.first_invalid(thermo([-30, float("nan"), -30.0]), -3.0, 1000.0) == (1, "non-finite thermo")
    # the earliest failing row wins whatever the criterion
    assert metrics.first_invalid(thermo([-30, -30, float("inf")], ke=[1, 200, 1]), -3.0, 1000.0)[0] == 1


def test_arena_auc_as_coded():
    assert metrics.arena_auc(np.ones(50)) == pytest.approx(97.5 / 99)  # the quirk: all finishing != 1
    assert metrics.arena_auc(np.zeros(10)) == pytest.approx(0.0)
    half = metrics.arena_auc(np.array([0.0, 1.0]))
    assert half == pytest.approx(0.5 * 97.5 / 99 + 0.5 * 0.0, abs=0.01)


def test_survival_and_completion():
    tau = np.array([1.0, 0.5, 0.25, 1.0])
    grid = np.array([0.0, 0.25, 0.3, 0.5, 0.6, 1.0])
    assert list(metrics.survival_curve(tau, grid)) == [100, 100, 75, 75, 50, 50]
    assert metrics.completion([100, 50, 25, 100], [100, 100, 100, 100]) == pytest.approx(68.75)
    assert metrics.completion([100, 50], [100, 200]) == pytest.approx(50.0)  # weighted by scheduled steps


def test_kaplan_meier():
    tau = np.array([1.0, 0.5, 0.25, 1.0])
    grid = np.linspace(0, 1, 11)
    no_censoring = metrics.kaplan_meier(tau, np.zeros(4, bool), grid)
    assert np.allclose(no_censoring[:-1], metrics.survival_curve(tau, grid)[:-1])
    # a run censored at 0.3 leaves the risk set: 3 runs face the failure at 0.5, so 2/3 survive
    # (counting the censored run as failed, as Arena does, would give 1/2)
    km = metrics.kaplan_meier(np.array([1.0, 0.5, 0.3, 1.0]), np.array([False, False, True, False]), grid)
    assert km[-1] == pytest.approx(100 * 2 / 3)


def test_classify_errors():
    assert metrics.classify_error("ERROR: Lost atoms: original 100 current 98") == ("invalid", "lost atoms")
    assert metrics.classify_error("ERROR on proc 0: Neighbor list overflow, boost neigh_modify one") == \
        ("invalid", "neighbor list overflow")
    assert metrics.classify_error("ERROR on proc 1: Non-numeric atom coords - simulation unstable") == \
        ("invalid", "non-numeric coordinates")
    said = "nedges exceeded nedges_upper_bound (/site-packages/sevenn/pair_e3gnn/pair_e3gnn.cpp:160)"
    assert metrics.classify_error(said) == ("invalid", "neighbour graph grew > 20 % in one step (collapse)")
    status, cause = metrics.classify_error("ERROR: Cannot open file foo.eam: No such file (src/src/potential_file_reader.cpp:58)")
    assert status == "error" and cause == "Cannot open file foo.eam: No such file"


def test_runs_without_a_valid_frame_count_as_tau_zero_everywhere():
    """4 valid runs and 4 that never reached a valid frame (an error before the ramp, a structure rejected
    up front: no steps_valid): %, Arena AUC, the survival curve and Kaplan-Meier all count them as failed
    at τ = 0, and the AUC stays below the all-valid ceiling."""
    import pandas as pd

    from mdrive.protocols import ramp

    rows = [{"structure": f"v{k}", "ensemble": "nvt", "status": "valid", "steps_valid": 100, "steps_target": 100}
            for k in range(4)]
    rows += [{"structure": f"e{k}", "ensemble": "nvt", "status": "error", "steps_valid": None, "steps_target": 100}
             for k in range(4)]
    table = ramp.summary_table(rows)
    head = ramp.headline(table)["nvt"]
    assert head["completed_percent"] == 50.0
    assert head["arena_auc"] == round(metrics.arena_auc(np.array([1, 1, 1, 1, 0, 0, 0, 0])), 4) < 0.985 / 2 + 0.01
    survival = ramp.survival_table(table).set_index("normalized_time")
    assert survival.loc[0.5, "percent_valid"] == 50.0 and survival.loc[0.5, "percent_valid_km"] == 50.0
    assert isinstance(table, pd.DataFrame)


def test_crash_verdicts_follow_the_log():
    """A crash is invalid when the last rows show the dynamics running away, an error otherwise; LAMMPS's
    box-collapse message is the simulation going unstable."""
    import pandas as pd

    calm = pd.DataFrame({"Step": [0, 10], "PotEng": [-350.0, -349.0], "Atoms": [100, 100], "Volume": [1000.0, 1001.0],
                         "Temp": [300.0, 310.0], "Press": [0.0, 1.0], metrics.KE_COLUMN: [0.2, 0.3]})
    hot = calm.assign(**{metrics.KE_COLUMN: [0.2, 15.0]})
    assert not metrics.running_away(calm, -3.5, 1000.0) and metrics.running_away(hot, -3.5, 1000.0)
    assert metrics.running_away(calm.assign(Volume=[1000.0, 250.0]), -3.5, 1000.0)
    assert metrics.classify_error("crashed: SIGSEGV after step 240", True) == ("invalid", "crashed: SIGSEGV after step 240")
    assert metrics.classify_error("crashed: SIGSEGV after step 240", False)[0] == "error"
    assert metrics.breakdown_at("memory budget exceeded (8.0 GB): Failed to allocate 9 bytes", 140) == \
        "memory budget exceeded (8.0 GB) after step 140: Failed to allocate 9 bytes"
    assert metrics.classify_error("ERROR: Cannot use neighbor bins - box size << cutoff (src/nbin_standard.cpp:183)") \
        == ("invalid", "box collapsed below the cutoff")
