"""`mdrive gcmc --preset li-graphite`: seed 001's hybrid GCMC/MD of Li intercalation in graphite (A11; docs/protocols
§4.1), on mdrive's exact engine, one chain per electrode potential V (vs Li/Li+), spread over MPI groups.

Each choice the paper leaves open, and why (README, "Li in graphite"):
- reservoir: Li metal at V, μ_Li = μ_bcc − eV. μ_bcc is the classical Einstein-crystal chemical potential of bcc Li
  relaxed with the same model: E_bcc + kT ln(Λ³/v), v = (2πkT/k)^{3/2} from the model's own spring constant k of one
  Li atom in bcc Li. The GCMC sampling is classical, so the reservoir is too: the Li's kinetic and vibrational
  parts then cancel between the two sides, as "entropy neglected" intends;
- composition moves: insertion and deletion of Li, candidates around graphite's Voronoi voids (--candidates voronoi),
  the acceptance divided by the candidates' density so detailed balance holds. The paper proposes the lowest-energy of
  5 candidates and relaxes after acceptance: both break detailed balance unless corrected, and the paper gives no
  correction; here the MD between invocations does the relaxing;
- cell moves: NPT MD (Nosé-Hoover, anisotropic, 0 bar) between invocations instead of random cell moves: the same
  isothermal-isobaric ensemble, with the c axis free to open as Li goes in;
- thermostat and timestep: Nosé-Hoover at 300 K, 1 fs, damping 100 fs; barostat damping 1 ps;
- output: x in LixC6 against V with bootstrap errors (100 resamples of block means, as the paper's 100), i.e. the
  grand-canonical (differential) voltage curve, which is what the measured staging plateaus are.
"""
from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
from ase.build import bulk

from mdrive.errors import InputError
from mdrive.structures import Structure

A_GRAPHITE, C_GRAPHITE = 2.46, 6.71  # Å: AB graphite, two layers per cell
A_BCC_LI = 3.44  # Å, the start of the relaxation
PLATEAUS = (0.21, 0.12, 0.09)  # V vs Li/Li+: graphite's measured staging plateaus (protocols §4.1)
BOOTSTRAP = 100


def graphite(cells: int, layers: int) -> Structure:
    """AB graphite, `cells` × `cells` in plane, `layers` layers (even): 6, 6 and 10 give the paper's 720 atoms."""
    from ase.lattice.hexagonal import Graphite

    atoms = Graphite("C", latticeconstant={"a": A_GRAPHITE, "c": C_GRAPHITE}, size=(cells, cells, layers // 2))
    atoms.pbc = True
    name = f"graphite-{cells}x{cells}x{layers}"
    return Structure(name, atoms, "--preset li-graphite", f"AB graphite, {len(atoms)} C, {layers} layers")


def lithium_reference(potential, temperature: float) -> dict:
    """μ_bcc of Li with `potential`, on rank 0 and shared: bcc Li relaxed (cell and positions), its energy per atom,
    one atom's spring constant from ±δ displacements in a 54-atom cell, and the Einstein-crystal μ from them."""
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    told = None
    if world.rank == 0:
        try:
            told = _reference(potential, temperature)
        except Exception as err:  # the model cannot do bcc Li: bad input, said on every rank
            told = (f"--preset li-graphite: bcc Li with {potential.spec} could not be relaxed: "
                    f"{type(err).__name__}: {err}")
    told = world.bcast(told, root=0)
    if isinstance(told, str):
        raise InputError(told)
    return told


def _reference(potential, temperature: float, delta: float = 0.02) -> dict:
    from mdrive import mc_guard

    with tempfile.TemporaryDirectory(prefix="mdrive-li-") as tmp:
        lmp = mc_guard.instance(Path(tmp), "bcc", bulk("Li", "bcc", a=A_BCC_LI, cubic=True), potential, ["Li"])
        try:
            lmp.commands_list(["fix mdrive_relax all box/relax iso 0.0", "min_style cg",
                               "minimize 0 1e-6 500 5000", "unfix mdrive_relax"])
            e_atom = mc_guard.energy(lmp) / 2
            a = lmp.extract_box()[1][0] - lmp.extract_box()[0][0]
        finally:
            lmp.close()
        cell = bulk("Li", "bcc", a=a, cubic=True).repeat(3)
        lmp = mc_guard.instance(Path(tmp), "einstein", cell, potential, ["Li"])
        try:
            e0 = mc_guard.energy(lmp)
            lmp.command("group mdrive_one id 1")
            lmp.command(f"displace_atoms mdrive_one move {delta} 0 0 units box")
            e_plus = mc_guard.energy(lmp)
            lmp.command(f"displace_atoms mdrive_one move {-2 * delta} 0 0 units box")
            e_minus = mc_guard.energy(lmp)
        finally:
            lmp.close()
    spring = (e_plus + e_minus - 2 * e0) / delta ** 2  # eV/Å²
    if not spring > 0:
        raise ValueError(f"bcc Li is not a minimum for this model (spring constant {spring:.3g} eV/Å²)")
    kt = 8.617333262e-5 * temperature
    wavelength = _de_broglie(6.94, temperature)
    free_volume = (2 * math.pi * kt / spring) ** 1.5
    mu = e_atom + kt * math.log(wavelength ** 3 / free_volume)
    return {"a_bcc": a, "e_bcc": e_atom, "spring": spring, "free_volume": free_volume, "wavelength": wavelength,
            "mu_bcc": mu}


def _de_broglie(mass_amu: float, temperature: float) -> float:
    """Λ in Å (CODATA constants; LAMMPS's metal-unit Λ agrees to 1e-8)."""
    from ase.units import _amu, _hplanck, _k

    return _hplanck / math.sqrt(2 * math.pi * mass_amu * _amu * _k * temperature) * 1e10


def plan(params, run):
    """The preset's study: the graphite cell, μ for each --voltage, the exact engine with Voronoi candidates."""
    from mdrive.protocol import Study
    from mdrive.protocols import gcmc
    from mdrive.protocols.mc import covered_species
    from mdrive.protocols.mc import engine as choose_engine

    if run.structures:
        raise InputError("--preset li-graphite builds its own graphite cell: give no STRUCTURE files")
    if params.layers % 2:
        raise InputError(f"--layers {params.layers}: AB graphite needs an even number of layers")
    potential = run.load_potential("chgnet:0.3.0")
    sp = covered_species("Li", potential)
    if "C" not in (potential.elements or ("C",)):
        raise InputError(f"--preset li-graphite: potential {potential.spec} does not cover C")
    host = graphite(params.cells, params.layers)
    temperature = params.temperature or 300.0
    reference = lithium_reference(potential, temperature)
    mus = tuple(reference["mu_bcc"] - v for v in params.voltage)
    chain = dataclasses.replace(params, species="Li", temperature=temperature, mu=mus, candidates="voronoi")
    chosen = choose_engine(host, potential, sp, chain, deletions=True)
    jobs = gcmc.structure_jobs([host], potential, sp, chain, chosen["mc_engine"]["engine"], md=npt_md(chain))
    for job, voltage in zip(jobs, params.voltage):
        job.name = job.info["run"] = f"{host.name}-V{voltage:g}"
        job.info.update(voltage=voltage, host_atoms=len(host.atoms), species="Li")
    provenance = {**chosen, "li_reference": reference, "preset": "li-graphite"}
    return Study(jobs, potential, [host], provenance=provenance)


def npt_md(params) -> dict:
    """The MD between invocations: Nosé-Hoover NPT at 0 bar, each axis on its own, barostat damping 1000 steps."""
    dt = params.timestep or 0.001
    return {"md_style": "npt", "md_options": f"aniso 0.0 0.0 {1000 * dt:g}"}


def loading(trace, info: dict, blocks: int = 10, seed: int = 1) -> dict:
    """x in LixC6 over the averaged part of a chain, and its bootstrap error over block means."""
    n = trace["n_Li"].to_numpy(float)
    x = n / (info["host_atoms"] / 6)
    if len(x) < blocks:
        return {"x_mean": float(x.mean()) if len(x) else None, "x_err": None}
    means = np.array([b.mean() for b in np.array_split(x, blocks)])
    resampled = np.random.default_rng(seed).choice(means, size=(BOOTSTRAP, blocks)).mean(axis=1)
    return {"x_mean": float(x.mean()), "x_err": float(resampled.std(ddof=1))}


def write_curve(out: Path, table) -> str | None:
    """voltage.csv and voltage.png from the chains' rows (those of the preset); the lines said after the table."""
    from mdrive import plots
    from mdrive.manifest import atomic_path, write_text

    rows = table[table["voltage"].notna()].sort_values("voltage")
    if rows.empty:
        return None
    curve = rows[["voltage", "value", "status", "x_mean", "x_err", "samples", "flag"]].rename(columns={"value": "mu"})
    write_text(out / VOLTAGE, curve.to_csv(index=False))
    valid = curve[curve["status"] == "valid"]
    if not valid.empty:
        with atomic_path(out / VOLTAGE_PLOT) as tmp:
            plots.voltage_curve(valid, PLATEAUS, tmp)
    return "\n".join(f"V = {r.voltage:g} V: x in LixC6 = {r.x_mean:.3f} ± {r.x_err or 0:.3f}"
                     for r in valid.itertuples())


VOLTAGE, VOLTAGE_PLOT = "voltage.csv", "voltage.png"
