"""mdrive's exact-trial MC engine (mdrive.mc_engine) against known answers, on real LAMMPS: the Lennard-Jones fluid's
μVT density against the JZG equation of state, fix gcmc and fix widom on many-body EAM copper, a model that fails
mid-run, and bad input."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from ase import Atoms
from helpers import ENV, ROOT, mdrive, mdrive_at_once, write_structures

from mdrive import lj_eos
from mdrive.structures import random_packing

LJ_CUTOFF = 3.0


def _lj_fugacity(t: float, rho: float) -> float:
    """The reservoir pressure (activity · kT) whose μVT fluid has density ρ: JZG's μ_ex less the tail the cut
    potential leaves out, as the Widom tests check it."""
    mu_ex = lj_eos.mu_excess(t, rho) - lj_eos.mu_tail(rho, LJ_CUTOFF)
    return rho * t * math.exp(mu_ex / t)


def test_exact_engine_lj_density_matches_the_equation_of_state(tmp_path):
    """Two liquid-like state points at T* = 2: the engine's insertions, deletions and translations (each a `run 0`)
    must give JZG's density at the fugacity JZG gives for it. A wrong ideal-gas factor (N+1, V, Λ) misses by far."""
    points = ((2.0, 0.5), (2.0, 0.65))
    runs = mdrive_at_once(*[
        ["gcmc", "--lj", "--engine", "exact", "--temperature", t, "--pressure", f"{_lj_fugacity(t, rho):.6f}",
         "--cells", "4", "--density", rho, "--cutoff", LJ_CUTOFF, "--steps", "6000", "--exchanges", "20",
         "--moves", "20", "--every", "10", "--out", tmp_path / f"rho{rho}"] for t, rho in points])
    for r, (_t, rho) in zip(runs, points):
        assert r.returncode == 0, r.stderr
        row = pd.read_csv(tmp_path / f"rho{rho}" / "isotherm.csv").iloc[0]
        assert row["status"] == "valid" and row["acc_insert"] > 0.01 and row["acc_delete"] > 0.01
        error = row["n_err"] / (4 * 4 ** 3 / rho)  # density error: N error over the fixed volume
        assert abs(row["density_mean"] - rho) < max(3 * error, 0.03 * rho), (rho, row["density_mean"], error)
        manifest = json.loads((tmp_path / f"rho{rho}" / "manifest.json").read_text())
        assert manifest["mc_engine"] == {"engine": "exact", "why": "asked for (--engine)"}


@pytest.fixture(scope="module")
def liquid_copper(tmp_path_factory):
    """120 Cu atoms packed at 5.76 g/cm³ (a 13 Å cube): EAM liquid copper at 6000 K, where atoms come and go quickly at
    fixed μ (about 150 at μ = -8 eV). The crystal at fixed μ is no test on two cores: it evaporates, or fills with
    vacancies, over thousands of steps."""
    atoms = random_packing("Cu", 120, 5.76, 2.0, np.random.default_rng(1))
    return write_structures(tmp_path_factory.mktemp("liquid") / "liq.extxyz", [atoms])


def test_exact_engine_and_fix_gcmc_agree_on_eam_copper(liquid_copper, tmp_path):
    """Many-body EAM, where fix gcmc scores every trial by a full energy (full_energy): both engines sample the same
    μVT ensemble, so <N> agrees within the error bars; fix widom and the engine's test insertions give one μ_ex."""
    gcmc = ["gcmc", liquid_copper, "--potential", "eam:Cu_u3.eam", "--species", "Cu", "--overlap", "1.5",
            "--temperature", "6000", "--mu", "-8.0", "--steps", "3000", "--equilibrate", "1000", "--exchanges", "20",
            "--moves", "10", "--every", "10"]
    widom = ["widom", liquid_copper, "--potential", "eam:Cu_u3.eam", "--species", "Cu", "--temperature", "6000",
             "--steps", "2000", "--equilibrate", "200", "--insertions", "20", "--every", "10", "--blocks", "5"]
    runs = mdrive_at_once(*[[*gcmc, "--engine", e, "--out", tmp_path / f"g{e}"] for e in ("fix", "exact")],
                          *[[*widom, "--engine", e, "--out", tmp_path / f"w{e}"] for e in ("fix", "exact")])
    for r in runs:
        assert r.returncode == 0, r.stderr
    fix, exact = (pd.read_csv(tmp_path / f"g{e}" / "isotherm.csv").iloc[0] for e in ("fix", "exact"))
    assert fix["status"] == exact["status"] == "valid"
    assert min(fix["acc_insert"], exact["acc_insert"], fix["acc_delete"], exact["acc_delete"]) > 0.005
    combined = math.hypot(fix["n_err"], exact["n_err"])
    assert abs(fix["n_mean"] - exact["n_mean"]) < 3 * combined + 1.0, (fix["n_mean"], exact["n_mean"], combined)
    assert min(fix["n_mean"], exact["n_mean"]) > 120 + 10 * combined  # μ filled the box: not two runs left alone
    wfix, wexact = (pd.read_csv(tmp_path / f"w{e}" / "widom.csv").iloc[0] for e in ("fix", "exact"))
    assert wfix["status"] == wexact["status"] == "valid"
    assert abs(wfix["mu_ex"] - wexact["mu_ex"]) < 3 * math.hypot(wfix["mu_ex_err"], wexact["mu_ex_err"]) + 0.05
    trace = pd.read_csv(tmp_path / "gexact" / "runs" / "liq-mu-8" / "mc-trace.csv")
    assert list(trace["step"]) == list(range(10, 3001, 10))  # a row per invocation, none lost
    assert (trace["atoms"] == trace["n_Cu"]).all() and trace["insert_tries"].is_monotonic_increasing


def test_a_model_that_raises_mid_mc_ends_its_run_as_an_error_and_keeps_its_rows(tmp_path):
    """A bridge model that raises during the MC: the run is an error naming the model, never valid, and the rows
    written before it stay."""
    atoms = Atoms("Cu4", positions=[[0, 0, 0], [1.8, 1.8, 0], [1.8, 0, 1.8], [0, 1.8, 1.8]], cell=[3.6] * 3, pbc=True)
    src = write_structures(tmp_path / "cu.extxyz", [atoms.repeat(2)])
    r = mdrive("gcmc", src, "--potential", "ase:planted_models:Raises?calls=120", "--species", "Cu",
               "--temperature", "800", "--mu", "-4.0", "--steps", "400", "--every", "10", "--exchanges", "4",
               "--moves", "4", "--out", tmp_path / "o", env={**ENV, "PYTHONPATH": str(ROOT / "tests")})
    assert "cu-mu-4: error" in r.stdout, r.stdout + r.stderr
    row = pd.read_csv(tmp_path / "o" / "isotherm.csv").iloc[0]
    assert row["status"] == "error" and "raised" in row["cause"], row.to_dict()
    trace = pd.read_csv(tmp_path / "o" / "runs" / "cu-mu-4" / "mc-trace.csv")
    assert 0 < len(trace) < 40


@pytest.mark.parametrize(("extra", "says"), [
    (["--engine", "exact", "--species", "MOLECULE"], "inserts single atoms"),
    (["--engine", "sometimes"], "--engine"),
    (["--audit", "-1"], "--audit"),
    (["--overlap", "0"], "--overlap"),
    (["--engine", "fix", "--candidates", "voronoi"], "needs --engine exact"),
], ids=["molecule-exact", "unknown-engine", "negative-audit", "zero-overlap", "voronoi-with-fix"])
def test_bad_engine_input_is_one_line_exit_2_nothing_written(tmp_path, extra, says):
    atoms = Atoms("Ar2", positions=[[0, 0, 0], [4, 4, 4]], cell=[9.0] * 3, pbc=True)
    src = write_structures(tmp_path / "ar.extxyz", [atoms])
    molecule = tmp_path / "n2.xyz"
    molecule.write_text("2\n\nN 0 0 0\nN 0 0 1.1\n")
    extra = [str(molecule) if e == "MOLECULE" else e for e in extra]
    species = [] if "--species" in extra else ["--species", "Ar"]
    r = mdrive("gcmc", src, "--potential", "lj:0.0104,3.4,8.5", *species, "--temperature", "100", "--mu", "-0.3",
               *extra, "--out", tmp_path / "o")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and says in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()


def test_exact_engine_makes_the_same_moves_on_two_ranks_and_spreads_over_groups(tmp_path):
    """The same seed makes the same trials with the same verdicts on 1 and on 2 ranks per run (atoms are drawn by
    position, since ids are renumbered by rank): the traces agree to round-off. Two reservoir points on two groups
    of one rank each both finish, the higher fugacity the denser."""
    lj = ["gcmc", "--lj", "--engine", "exact", "--temperature", "2.0", "--cells", "4", "--density", "0.5",
          "--cutoff", LJ_CUTOFF, "--every", "10", "--exchanges", "20", "--moves", "20"]
    one = mdrive(*lj, "--steps", "150", "--pressure", "0.9", "--out", tmp_path / "one", np=1)
    two = mdrive(*lj, "--steps", "150", "--pressure", "0.9", "--ranks-per-run", "2", "--out", tmp_path / "two", np=2)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    a, b = (pd.read_csv(tmp_path / d / "runs" / "lj-T2-p0.9" / "mc-trace.csv") for d in ("one", "two"))
    counters = [c for c in a.columns if c.endswith(("_tries", "_ok")) or c in ("step", "atoms")]
    assert a[counters].equals(b[counters]) and a["insert_ok"].iloc[-1] > 0 and a["delete_ok"].iloc[-1] > 0
    assert np.allclose(a["pe"], b["pe"], rtol=1e-9, atol=0)
    r = mdrive(*lj, "--steps", "300", "--pressure", "0.3,2.7", "--out", tmp_path / "groups", np=2)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "groups" / "isotherm.csv").set_index("value")
    assert (table["status"] == "valid").all() and table.loc[2.7, "density_mean"] > table.loc[0.3, "density_mean"] + 0.05


def test_voronoi_candidates_sample_the_same_ensemble_as_uniform_insertion(tmp_path):
    """Ar adsorbing in a Ne crystal (LJ, 300 K): insertions drawn around the host's Voronoi vertices (its voids)
    are accepted far more often, and, with the acceptance divided by that choice's density, give the <N> uniform
    insertion gives. Without the division each site would gain V·q ≈ 200 times too much."""
    spec = tmp_path / "lj.yaml"
    spec.write_text('pair_style: lj/cut 9.0\npairs: {Ne-Ne: "0.1 4.0", Ne-Ar: "0.03 3.3", Ar-Ar: "0.01 3.4"}\n')
    grid = np.array([[i, j, k] for i in range(3) for j in range(3) for k in range(3)]) * 4.5
    src = write_structures(tmp_path / "host.extxyz", [Atoms("Ne27", positions=grid, cell=[13.5] * 3, pbc=True)])
    base = ["gcmc", src, "--potential", spec, "--species", "Ar", "--temperature", "300", "--mu", "-0.36",
            "--steps", "3000", "--equilibrate", "1000", "--every", "10", "--exchanges", "20", "--moves", "10"]
    runs = mdrive_at_once(*[[*base, "--candidates", c, "--out", tmp_path / c] for c in ("uniform", "voronoi")])
    for r in runs:
        assert r.returncode == 0, r.stderr
    uniform, voronoi = (pd.read_csv(tmp_path / c / "isotherm.csv").iloc[0] for c in ("uniform", "voronoi"))
    assert voronoi["acc_insert"] > 3 * uniform["acc_insert"]
    combined = math.hypot(uniform["n_err"], voronoi["n_err"])
    assert abs(uniform["n_mean"] - voronoi["n_mean"]) < 3 * combined + 1.5, (uniform["n_mean"], voronoi["n_mean"])
    assert min(uniform["n_mean"], voronoi["n_mean"]) > 27 + 3  # Ar did adsorb
    manifest = json.loads((tmp_path / "voronoi" / "manifest.json").read_text())
    assert manifest["mc_engine"]["why"] == "--candidates voronoi: fix gcmc inserts uniformly"


def test_graphite_voids_lie_in_the_galleries():
    """The candidate sites of graphite (AB, 36 C) are its interlayer voids: none in a carbon plane, none closer than
    the steric exclusion to a carbon atom, every hexagon's gallery covered."""
    from ase.lattice.hexagonal import Graphite

    from mdrive.mc_engine import Proposal, void_sites

    g = Graphite("C", latticeconstant={"a": 2.46, "c": 6.71}, size=(3, 3, 1))
    sites = void_sites(g.positions, np.zeros(3), np.array(g.cell), Proposal.EXCLUSION)
    layers = sorted(set(np.round(g.positions[:, 2], 2)))
    assert layers == [0.0, 3.36]
    height = sites[:, 2] % 3.355
    assert np.all((height > 1.0) & (height < 3.355 - 1.0))  # between the planes, at least 1 Å off them
    d = sites[:, None, :] - g.positions[None, :, :]
    fractional = d @ np.linalg.inv(np.array(g.cell))
    d = (fractional - np.round(fractional)) @ np.array(g.cell)
    assert np.sqrt(np.einsum("ijk,ijk->ij", d, d)).min() >= Proposal.EXCLUSION
    assert len(sites) >= 2 * 9  # at least one site above each of the 9 hexagons per gallery, two galleries


def test_resume_keeps_finished_exact_runs_and_reruns_a_lost_one_identically(tmp_path):
    """--resume leaves finished chains alone and reruns only a missing one, which (same seed, same deck) makes the
    very same moves: its trace comes back identical."""
    lj = ["gcmc", "--lj", "--engine", "exact", "--temperature", "2.0", "--cells", "3", "--density", "0.3",
          "--cutoff", LJ_CUTOFF, "--steps", "100", "--every", "10", "--exchanges", "10", "--moves", "10",
          "--pressure", "0.9,2.7", "--out", tmp_path / "o"]
    assert mdrive(*lj).returncode == 0
    runs = tmp_path / "o" / "runs"
    kept, lost = (runs / f"lj-T2-p{p}" / "mc-trace.csv" for p in ("0.9", "2.7"))
    first, stamp = lost.read_text(), kept.stat().st_mtime_ns
    for f in lost.parent.iterdir():
        f.unlink()
    lost.parent.rmdir()
    r = mdrive(*lj, "--resume")
    assert r.returncode == 0, r.stderr
    assert kept.stat().st_mtime_ns == stamp and lost.read_text() == first
    assert (pd.read_csv(tmp_path / "o" / "isotherm.csv")["status"] == "valid").all()


def test_the_guard_never_scores_a_model_that_raised(tmp_path):
    """A model that raises inside its callback leaves LAMMPS the last energy it set; the guard (and the Li reference,
    which use the same instances) must say so, not compare stale numbers: one line, exit 2, the model's message."""
    atoms = Atoms("Cu4", positions=[[0, 0, 0], [1.8, 1.8, 0], [1.8, 0, 1.8], [0, 1.8, 1.8]], cell=[3.6] * 3, pbc=True)
    src = write_structures(tmp_path / "cu.extxyz", [atoms.repeat(2)])
    r = mdrive("gcmc", src, "--potential", "ase:planted_models:Raises?calls=5", "--species", "Cu",
               "--temperature", "800", "--mu", "-4.0", "--out", tmp_path / "o",
               env={**ENV, "PYTHONPATH": str(ROOT / "tests")})
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "MC guard could not run" in r.stderr and "planted failure after 5 calls" in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()
