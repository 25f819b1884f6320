"""Monte Carlo with real LAMMPS: Widom against the JZG equation of state, GCMC against Widom, the guard rail."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from ase.build import bulk, fcc111
from ase.neighborlist import neighbor_list
from helpers import mdrive, write_structures

from mdrive import lj_eos, mc_guard, potentials
from mdrive.protocols.mc import widom_mu
from mdrive.structures import Structure


def test_jzg_is_thermodynamically_consistent():
    # P = ρT + ρ² ∂a_res/∂ρ must hold between the two halves of the EOS at any state point
    for t, rho in [(2.0, 0.3), (1.5, 0.65), (3.0, 0.8), (1.2, 0.05)]:
        h = 1e-6
        dadrho = (lj_eos.helmholtz_residual(t, rho + h) - lj_eos.helmholtz_residual(t, rho - h)) / (2 * h)
        assert lj_eos.pressure(t, rho) == pytest.approx(rho * t + rho ** 2 * dadrho, rel=1e-7)
    assert lj_eos.mu_excess(2.0, 1e-6) == pytest.approx(0.0, abs=1e-4)  # ideal gas at vanishing density


def test_widom_estimator_averages_boltzmann_factors():
    rng = np.random.default_rng(3)
    w = rng.lognormal(0.0, 1.0, 4000)  # per-invocation mean Boltzmann factors
    mu_rows = -1.5 * np.log(w)
    mu, err = widom_mu(mu_rows, 1.5, blocks=10)
    assert mu == pytest.approx(-1.5 * np.log(w.mean()), abs=1e-12)
    assert mu < mu_rows.mean()  # averaging μ instead would be biased upwards (Jensen)
    assert 0 < err < 0.1


def test_widom_lj_matches_jzg(tmp_path):
    out = tmp_path / "w"
    r = mdrive("widom", "--lj", "--density", "0.3", "--temperature", "2.0", "--cells", "4", "--steps", "10000",
               "--insertions", "100", "--out", out)
    assert r.returncode == 0, r.stderr
    row = pd.read_csv(out / "widom.csv").iloc[0]
    assert row["status"] == "valid" and row["samples"] == 1000
    assert row["mu_ex_jzg"] == pytest.approx(lj_eos.mu_excess(2.0, 0.3))
    assert abs(row["mu_ex_full"] - row["mu_ex_jzg"]) < max(4 * row["mu_ex_err"], 0.05)
    assert row["pressure"] == pytest.approx(row["pressure_jzg"], rel=0.03)  # tail-corrected MD pressure
    assert abs(row["temp_mean"] - 2.0) < 0.05


@pytest.mark.mpi
def test_gcmc_lj_reaches_the_density_widom_gives_that_mu(tmp_path):
    t, rho = 2.0, 0.3
    w = tmp_path / "w"
    assert mdrive("widom", "--lj", "--density", rho, "--temperature", t, "--cells", "4", "--steps", "10000",
                  "--insertions", "100", "--out", w).returncode == 0
    mu_ex = pd.read_csv(w / "widom.csv").iloc[0]["mu_ex"]  # the truncated potential gcmc runs too
    fugacity = rho * t * math.exp(mu_ex / t)  # activity z = ρ exp(βμ_ex); fix gcmc's pressure P = z kT
    g = tmp_path / "g"
    r = mdrive("gcmc", "--lj", "--temperature", t, "--pressure", f"{fugacity:.6f},{fugacity / 2:.6f}",
               "--cells", "3", "--density", "0.1", "--steps", "20000", "--exchanges", "50", "--moves", "50",
               "--out", g, np=2)
    assert r.returncode == 0, r.stderr
    iso = pd.read_csv(g / "isotherm.csv").sort_values("value")
    assert list(iso["status"]) == ["valid", "valid"]
    assert iso["density_mean"].iloc[1] == pytest.approx(rho, rel=0.05)
    assert iso["density_mean"].iloc[0] < iso["density_mean"].iloc[1] - 0.05  # half the fugacity, lower loading
    assert 0.1 < iso["acc_insert"].iloc[1] < 0.9 and 0.1 < iso["acc_delete"].iloc[1] < 0.9
    trace = pd.read_csv(g / "gcmc.csv")
    assert {"step", "atoms", "pe", "insert_tries", "delete_ok", "translate_ok"} <= set(trace.columns)
    assert (g / "isotherm.png").stat().st_size > 5000


@pytest.mark.parametrize("spec,cell", [("eam:Cu_u3.eam", bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)),
                                       ("snap:W_2940_2017_2", bulk("W", "bcc", a=3.16, cubic=True).repeat(3)),
                                       ("mliap:Ta06A", bulk("Ta", "bcc", a=3.30, cubic=True).repeat(3)),
                                       ("eam:Cu_u3.eam", fcc111("Cu", (3, 3, 4), vacuum=5.0, periodic=True))],
                         ids=["eam", "snap", "mliap", "eam-triclinic-slab"])
def test_guard_passes_for_classical_snap_and_mliap(spec, cell):
    """Also on a triclinic slab, where sites drawn from the box's bounding region would fall outside the cell."""
    species = cell.get_chemical_symbols()[0]
    result = mc_guard.check(Structure("s", cell, "test"), potentials.load(spec), species)
    assert result.roundtrip_ok and result.exclusion_ok and result.failure(deletions=True) is None
    assert len(result.roundtrip_errors) == 10 and len(result.exclusion_errors) == 10
    assert np.std(result.insertion_energies) > 1e-3  # the trials really inserted at different sites


def _exclusion_blind_potential(folder, atoms):
    """pair_style list: interactions from a fixed list of atom ids, blind to LAMMPS's neighbour exclusions,
    exactly the failure lammps#5081 reports for pair_style mliap."""
    i, j = neighbor_list("ij", atoms, 2.7)
    lines = [f"{a + 1} {b + 1} morse 1.0 1.4 2.3 5.0" for a, b in zip(i, j) if a < b]
    (folder / "pairs.txt").write_text("\n".join(lines) + "\n")
    spec = folder / "blind.yaml"
    spec.write_text(f"pair_style: list {folder / 'pairs.txt'} 6.0 nocheck\npair_coeff: '* *'\nelements: [Cu]\n")
    return spec


def test_guard_sends_a_potential_blind_to_exclusions_to_the_exact_engine(tmp_path):
    """fix gcmc would score its trial deletions wrong: auto takes the exact engine, --engine fix is refused unless
    --unsafe, and widom (insertions only) keeps fix widom."""
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    src = write_structures(tmp_path / "cu.extxyz", [atoms])
    spec = _exclusion_blind_potential(tmp_path, atoms)
    args = ["gcmc", src, "--potential", spec, "--species", "Cu", "--mu", "-3.0", "--temperature", "500",
            "--steps", "200", "--exchanges", "2", "--moves", "2"]
    r = mdrive(*args, "--engine", "fix", "--out", tmp_path / "refused")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "exclusion of a trial-deleted atom is ignored" in r.stderr and "lammps#5081" in r.stderr
    assert not (tmp_path / "refused").exists()
    widom = mdrive("widom", src, "--potential", spec, "--species", "Cu", "--temperature", "500", "--steps", "400",
                   "--equilibrate", "0", "--insertions", "5", "--blocks", "2", "--out", tmp_path / "w")
    assert widom.returncode == 0, widom.stderr  # widom only inserts: the exclusion path does not matter
    seen = json.loads((tmp_path / "w" / "manifest.json").read_text())
    assert seen["mc_guard"]["roundtrip_ok"] and not seen["mc_guard"]["exclusion_ok"] and not seen["mc_guard"]["refused"]
    assert seen["mc_engine"]["engine"] == "fix"
    r = mdrive(*args, "--out", tmp_path / "auto")
    assert r.returncode == 0, r.stderr
    auto = json.loads((tmp_path / "auto" / "manifest.json").read_text())
    assert auto["mc_engine"] == {"engine": "exact", "why": "the MC guard failed for fix gcmc's trial deletions"}
    assert not auto["mc_guard"]["refused"] and (tmp_path / "auto" / "runs" / "cu-mu-3" / "mc-trace.csv").is_file()
    r = mdrive(*args, "--engine", "fix", "--unsafe", "--out", tmp_path / "unsafe")
    assert r.returncode == 0, r.stderr
    guard = json.loads((tmp_path / "unsafe" / "manifest.json").read_text())["mc_guard"]
    assert guard["refused"] and guard["overridden_by_unsafe"] and not guard["exclusion_ok"]
    assert guard["exclusion_ignored"] >= 1 and guard["roundtrip_ok"]


def test_gcmc_with_eam_records_the_guard_and_counts_species(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    del atoms[[0, 5, 9]]  # vacancies to fill
    src = write_structures(tmp_path / "cu.extxyz", [atoms])
    out = tmp_path / "out"
    r = mdrive("gcmc", src, "--potential", "eam/alloy:CuNi.eam.alloy", "--species", "Ni", "--mu", "-4.0",
               "--temperature", "800", "--steps", "300", "--exchanges", "5", "--moves", "5", "--swap", "Cu:Ni",
               "--out", out)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["mc_guard"]["roundtrip_ok"] and manifest["mc_guard"]["exclusion_ok"]
    trace = pd.read_csv(out / "gcmc.csv")
    assert (trace["n_Ni"] + trace["n_Cu"] == trace["atoms"]).all()
    assert trace["insert_tries"].iloc[-1] > 0 and trace["swap_tries"].iloc[-1] > 0
    deck = (out / "runs" / "cu-mu-4" / "in.lammps").read_text()
    assert "variable gcmc_options index full_energy" in deck and "variable type index 1" in deck  # Ni: Z 28 < Cu


def _argon_box(folder, n=5, length=20.0):
    from ase import Atoms

    rng = np.random.default_rng(2)
    return write_structures(folder / "ar.extxyz",
                            [Atoms(f"Ar{n}", positions=rng.random((n, 3)) * length, cell=[length] * 3, pbc=True)])


def test_gcmc_mu_is_fix_gcmcs_ideal_gas_chemical_potential(tmp_path):
    # near-ideal argon (ε = 1e-9 eV): <N> = exp(μ/kT) V / Λ³, Λ = h / sqrt(2π m kT)
    from ase.units import _amu, _hplanck, _k, kB

    t, volume, target = 300.0, 8000.0, 50.0
    wavelength = _hplanck / math.sqrt(2 * math.pi * 39.948 * _amu * _k * t) * 1e10  # Å
    mu = kB * t * math.log(target * wavelength ** 3 / volume)
    out = tmp_path / "out"
    r = mdrive("gcmc", _argon_box(tmp_path), "--potential", "lj:1e-9,3.4,8.5", "--species", "Ar", "--mu", f"{mu:.6f}",
               "--temperature", t, "--steps", "6000", "--exchanges", "20", "--moves", "0", "--out", out)
    assert r.returncode == 0, r.stderr
    row = pd.read_csv(out / "isotherm.csv").iloc[0]
    assert row["n_mean"] == pytest.approx(target, rel=0.12)


def test_gcmc_inserts_whole_molecules(tmp_path):
    import ase.io
    from ase import Atoms

    ase.io.write(tmp_path / "n2.xyz", Atoms("N2", positions=[[0, 0, 0], [0, 0, 1.1]]))
    spec = tmp_path / "ljmix.yaml"  # no N–N term: the molecule's own atoms do not repel each other
    spec.write_text('pair_style: lj/cut 8.5\npairs: {N-N: "0.0 1.0", N-Ar: "0.008 3.35", Ar-Ar: "0.0104 3.4"}\n')
    out = tmp_path / "out"
    r = mdrive("gcmc", _argon_box(tmp_path, 20), "--potential", spec, "--species", tmp_path / "n2.xyz",
               "--mu", "-0.3", "--temperature", "300", "--steps", "1000", "--out", out)
    assert r.returncode == 0, r.stderr
    trace = pd.read_csv(out / "gcmc.csv")
    assert (trace["n_N"] % 2 == 0).all() and trace["n_N"].max() > 0 and (trace["n_Ar"] == 20).all()
    template = (out / "runs" / "ar-mu-0.3" / "molecule.txt").read_text()
    assert "2 atoms" in template and "Types\n\n1 1\n2 1" in template  # N is type 1 (Z 7 < Ar)


def test_widom_in_metal_units_matches_reduced_lj(tmp_path):
    # argon-like LJ (ε 0.0104 eV, σ 3.4 Å, cut at 4σ) at T* = 2, ρ* = 0.3 through the structure path:
    # μ_ex/ε plus the tail must match JZG as the reduced-unit run does (same tolerance)
    from ase.units import kB

    from mdrive.structures import random_packing

    eps, sigma, t_star, rho_star = 0.0104, 3.4, 2.0, 0.3
    mass_density = rho_star / sigma ** 3 * 39.948 * 1.66053907e-24 * 1e24  # g/cm³
    atoms = random_packing("Ar", 256, mass_density, 3.0, np.random.default_rng(1))
    src = write_structures(tmp_path / "ar.extxyz", [atoms])
    out = tmp_path / "out"
    r = mdrive("widom", src, "--potential", f"lj:{eps},{sigma},{4 * sigma}", "--species", "Ar",
               "--temperature", f"{t_star * eps / kB:.4f}", "--timestep", "0.005", "--steps", "20000",
               "--equilibrate", "5000", "--insertions", "100", "--out", out)
    assert r.returncode == 0, r.stderr
    row = pd.read_csv(out / "widom.csv").iloc[0]
    assert "full_energy" not in (out / "runs" / "ar" / "in.lammps").read_text().split("widom_options")[1][:30]
    mu_star = row["mu_ex"] / eps + lj_eos.mu_tail(rho_star, 4.0)
    assert abs(mu_star - lj_eos.mu_excess(t_star, rho_star)) < max(4 * row["mu_ex_err"] / eps, 0.06)


def test_gcmc_flags_a_loading_that_still_drifts_and_discards_what_equilibrate_names(tmp_path):
    """The LJ fluid at μ = -2.5 ε, started at ρ = 0.1, keeps filling for thousands of steps: 2000 steps are not
    equilibrium, and the table says so instead of reporting <N> as converged."""
    base = ["gcmc", "--lj", "--temperature", "2.0", "--mu", "-2.5", "--cells", "3", "--steps", "2000"]
    r = mdrive(*base, "--out", tmp_path / "half")
    assert r.returncode == 0, r.stderr
    half = pd.read_csv(tmp_path / "half" / "isotherm.csv").iloc[0]
    assert half["n_drift"] > 4 * half["n_err"] and half["flag"].startswith("<N> still drifts")
    assert "still drifts" in r.stdout
    r = mdrive(*base, "--equilibrate", "1600", "--out", tmp_path / "late")
    assert r.returncode == 0, r.stderr
    late = pd.read_csv(tmp_path / "late" / "isotherm.csv").iloc[0]
    assert late["samples"] == 41 and half["samples"] == 101  # rows every 10 steps: 1600..2000 and 1000..2000
    assert late["n_mean"] > half["n_mean"]  # later rows, fuller box


def test_widom_convergence_curve_ends_at_the_reported_mu(tmp_path):
    r = mdrive("widom", "--lj", "--temperature", "2.0", "--density", "0.5", "--cells", "3", "--cutoff", "2.5",
               "--steps", "2000", "--equilibrate", "200", "--out", tmp_path / "w")
    assert r.returncode == 0, r.stderr
    mu = pd.read_csv(tmp_path / "w" / "widom.csv").iloc[0]["mu_ex"]
    curve = pd.read_csv(tmp_path / "w" / "convergence.csv")
    assert curve["samples"].iloc[-1] == 200 and curve["mu_ex"].iloc[-1] == pytest.approx(mu, abs=1e-9)
    assert (tmp_path / "w" / "widom.png").stat().st_size > 10_000
