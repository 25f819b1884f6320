"""`mdrive gcmc --preset li-graphite` (seed 001, A11) with CHGNet 0.3.0 through the bridge: the bcc Li reference the
reservoir is measured from, chains that load Li as the electrode potential falls, and bad input."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from ase.build import bulk
from helpers import mdrive

pytest.importorskip("chgnet", reason="needs the foundation extra (pip install .[foundation]); make test installs it")

CHGNET = "chgnet:0.3.0"


def test_li_reference_is_bcc_li_relaxed_with_the_model(float32_torch):
    """E_bcc and a_bcc from LAMMPS's box relaxation equal CHGNet's own energy of that cell; μ_bcc is the classical
    Einstein crystal's, E + kT ln(Λ³/v), v = (2πkT/k)^{3/2}."""
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    from mdrive import potentials
    from mdrive.protocols.li_graphite import lithium_reference

    ref = lithium_reference(potentials.load(CHGNET), 300.0)
    assert 3.3 < ref["a_bcc"] < 3.6  # PBE-like: experiment 3.51 Å, PBE about 3.43 Å
    cell = bulk("Li", "bcc", a=ref["a_bcc"], cubic=True)
    cell.calc = CHGNetCalculator(model=CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False),
                                 use_device="cpu")
    assert cell.get_potential_energy() / 2 == pytest.approx(ref["e_bcc"], abs=1e-5)
    assert ref["spring"] > 0.1  # eV/Å²: a bound atom
    kt = 8.617333262e-5 * 300
    assert ref["wavelength"] == pytest.approx(0.3826, rel=1e-3)  # Li at 300 K
    expected = ref["e_bcc"] + kt * math.log(ref["wavelength"] ** 3 / (2 * math.pi * kt / ref["spring"]) ** 1.5)
    assert ref["mu_bcc"] == pytest.approx(expected, abs=1e-12)


def test_preset_loads_graphite_with_li_as_the_voltage_falls(tmp_path):
    """Two chains on 16 C (2×2, two layers): below 0 V vs Li/Li+ the reservoir is richer than Li metal and graphite
    takes Li in; each chain's x in LixC6 is its trace's Li count over C/6."""
    r = mdrive("gcmc", "--preset", "li-graphite", "--potential", CHGNET, "--cells", "2", "--layers", "2",
               "--voltage", "0.8,-0.5", "--steps", "100", "--every", "10", "--exchanges", "10", "--moves", "4",
               "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    curve = pd.read_csv(tmp_path / "o" / "voltage.csv").set_index("voltage")
    assert (curve["status"] == "valid").all()
    assert curve.loc[-0.5, "x_mean"] > curve.loc[0.8, "x_mean"] + 0.3
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    ref = manifest["li_reference"]
    assert curve.loc[-0.5, "mu"] == pytest.approx(ref["mu_bcc"] + 0.5, abs=1e-9)
    assert manifest["mc_engine"]["engine"] == "exact" and manifest["preset"] == "li-graphite"
    trace = pd.read_csv(tmp_path / "o" / "runs" / "graphite-2x2x2-V-0.5" / "mc-trace.csv")
    assert (trace["n_C"] == 16).all()
    late = trace.iloc[len(trace) // 2:]
    assert curve.loc[-0.5, "x_mean"] == pytest.approx((late["n_Li"] / (16 / 6)).mean())
    assert (tmp_path / "o" / "voltage.png").is_file()
    deck = (tmp_path / "o" / "runs" / "graphite-2x2x2-V-0.5" / "in.lammps").read_text()
    assert "variable md_style index npt" in deck  # the cell follows what goes in


@pytest.mark.parametrize(("extra", "says"), [
    (["--voltage", "0.1", "--mu", "-2"], "sets the reservoir from --voltage"),
    ([], "needs --voltage"),
    (["--voltage", "0.1", "--layers", "3"], "even number of layers"),
    (["--voltage", "0.1", "STRUCTURE"], "builds its own graphite cell"),
    (["--voltage", "0.1", "--potential", "eam:Cu_u3.eam"], "not Li"),
    (["--voltage", "0.1", "--species", "Na"], "inserts Li"),
], ids=["mu", "no-voltage", "odd-layers", "structure", "potential-without-li", "other-species"])
def test_preset_bad_input_is_one_line_exit_2(tmp_path, extra, says):
    extra = [str(tmp_path / "x.extxyz") if e == "STRUCTURE" else e for e in extra]
    if any(e.endswith("x.extxyz") for e in extra):
        bulk("C", "diamond", a=3.57).write(tmp_path / "x.extxyz")
    potential = [] if "--potential" in extra else ["--potential", CHGNET]
    r = mdrive("gcmc", "--preset", "li-graphite", *potential, *extra, "--out", tmp_path / "o")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and says in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()
