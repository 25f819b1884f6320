"""What `mdrive widom` and `mdrive gcmc` share: the species (an element or a molecule), the reduced-unit
Lennard-Jones fluid, MD settings per unit system, and the guard rail before MC with a potential."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from ase.data import atomic_numbers
from ase.units import kB

from mdrive.errors import InputError
from mdrive.params import param
from mdrive.protocols.md import MAX_TIMESTEP_PS, SEED_MAX, check_damping

MOLECULE = "molecule.txt"
PAIRWISE = ("lj/cut", "zbl")  # families whose pair style has single(): fix gcmc/widom can score a trial cheaply


def full_energy(potential) -> bool:
    """Every trial a full energy evaluation: needed by many-body and ML potentials (no single())."""
    return potential is not None and potential.family not in PAIRWISE


@dataclass(frozen=True)
class MCParams:
    """What gcmc and widom share: a structure with a potential, or the LJ fluid (--lj, reduced units)."""

    lj: bool = param(False, "the Lennard-Jones fluid in reduced units (validation): values are then reduced, "
                     "bare or with sigma, tau, epsilon")
    species: str | None = param(None, "element symbol, or a molecule file (xyz, ...) to insert", str)
    unsafe: bool = param(False, "run even when the MC guard rail fails (recorded)")
    engine: str = param("auto", "MC engine: fix (fix gcmc/widom), exact (mdrive's trials on the real N±1 "
                        "configuration, any potential), auto (fix where the guard passes, else exact)",
                        choices=("auto", "fix", "exact"))
    audit: int = param(0, "exact engine: write the first N accepted moves (configurations before and after, "
                       "energies) to mc-audit.extxyz in the run folder", min=0, max=10_000)
    steps: int = param(20000, "MD steps sampled", min=1, max=2_000_000_000)
    every: int = param(10, "MD steps between MC invocations", min=1, aliases=("--md-steps-between",))
    timestep: float | None = param(None, "MD timestep (default 1 fs, 0.5 fs with H; 0.005 tau with --lj)",
                                   dim="time", above=0, max=MAX_TIMESTEP_PS)
    tdamp: float | None = param(None, "thermostat damping (default 100 timesteps)", dim="time", above=0)
    seed: int = param(12345, "velocity and MC seed, recorded", min=1, max=SEED_MAX)
    cutoff: float = param(4.0, "--lj: cutoff, at least 2.5 sigma (tail corrections added)", dim="length", above=0,
                          reduced_only=True)
    cells: int = param(6, "--lj: fcc cells per side (4·cells³ atoms); li-graphite: in-plane repeats", min=1,
                       max=100)

    def check(self) -> None:
        if not self.lj:
            dt = self.timestep or 0.001
            check_damping(self.tdamp, None, dt, self.steps * dt)

    def md(self, has_hydrogen: bool = False) -> dict:
        """Timestep and damping in the deck's units: metal ps, or LJ τ (100 steps' damping)."""
        dt, tdamp = md_defaults(self.lj, has_hydrogen)
        return {"dt": self.timestep or dt, "tdamp": self.tdamp or tdamp}

    def lj_or_structures(self, run) -> None:
        """--lj builds its own fluid; otherwise structures, a potential and a species are needed."""
        if self.lj and (run.structures or run.potential or self.species):
            raise InputError("--lj builds its own Lennard-Jones fluid: give no structures, --potential or --species")
        if not self.lj and not (run.structures and run.potential and self.species):
            raise InputError("this needs STRUCTURE files, --potential and --species (or --lj for the LJ fluid)")


@dataclass(frozen=True)
class LJFluid:
    """The Lennard-Jones fluid in reduced units: an fcc lattice of 4·cells³ atoms at `density`, melted by
    the MD; the full 12-6 potential cut at `cutoff` σ, no shift (docs/protocols §4.4)."""
    density: float
    cutoff: float = 4.0
    cells: int = 6

    def check(self) -> None:
        if not 0 < self.density < 1.2:
            raise InputError(f"--density must lie in (0, 1.2) in reduced units (got {self.density})")
        if self.cutoff < 2.5:
            raise InputError(f"--cutoff must be at least 2.5 σ (got {self.cutoff})")
        box = self.cells * (4 / self.density) ** (1 / 3)
        if 2 * self.cutoff >= box:
            raise InputError(f"--cutoff {self.cutoff} σ is more than half the box ({box:.2f} σ); raise --cells")

    def variables(self) -> dict:
        return {"density": self.density, "cutoff": self.cutoff, "cells": self.cells}


@dataclass(frozen=True)
class Species:
    """What MC inserts: one element, or a molecule (its atoms, in the structure's element order)."""
    name: str
    elements: tuple[str, ...]  # elements it brings
    molecule: Atoms | None = None

    def type_id(self, elements: list[str]) -> int:
        """fix gcmc/widom's type argument: the element's type, or 0 with a molecule template."""
        return 0 if self.molecule is not None else elements.index(self.name) + 1

    def template(self, elements: list[str]) -> str:
        """The LAMMPS molecule template (Coords and Types, centred on its centre of mass)."""
        mol = self.molecule
        xyz = mol.positions - mol.get_center_of_mass()
        lines = [f"# {self.name}: written by mdrive", "", f"{len(mol)} atoms", "", "Coords", ""]
        lines += [f"{k + 1} {x:.8f} {y:.8f} {z:.8f}" for k, (x, y, z) in enumerate(xyz)]
        lines += ["", "Types", ""]
        lines += [f"{k + 1} {elements.index(s) + 1}" for k, s in enumerate(mol.get_chemical_symbols())]
        return "\n".join(lines) + "\n"


def elements_with(structure, sp: Species) -> list[str]:
    """Atom types of a run: the structure's elements and the species', by atomic number."""
    return sorted(set(structure.elements) | set(sp.elements), key=atomic_numbers.get)


def species(text: str) -> Species:
    """--species: an element symbol, or a molecule file any ASE format reads (xyz, extxyz, ...)."""
    if text in atomic_numbers and text != "X":
        return Species(text, (text,))
    path = Path(text)
    if not path.is_file():
        raise InputError(f"--species {text} is neither an element symbol nor a molecule file")
    if re.search(r"^\s*Coords\s*$", path.read_text(errors="replace"), re.M) or _is_lammps_template(path):
        raise InputError(f"--species {text}: give the molecule as an xyz file (mdrive writes the LAMMPS "
                         f"template with the right atom types), not a LAMMPS molecule template")
    import ase.io

    try:
        mol = ase.io.read(path, index=0, parallel=False)
    except Exception as err:
        raise InputError(f"--species {text}: cannot read a molecule with coordinates from it "
                         f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    if len(mol) == 0:
        raise InputError(f"--species {text}: the molecule file holds no atoms with coordinates")
    return Species(path.stem, tuple(sorted(set(mol.get_chemical_symbols()), key=atomic_numbers.get)), mol)


def covered_species(text: str, potential) -> Species:
    """--species, refused when the potential does not cover its elements (said before any structure is read)."""
    sp = species(text)
    lacking = sorted(set(sp.elements) - set(potential.elements or sp.elements))
    if lacking:
        raise InputError(f"--species {text}: potential {potential.spec} covers {' '.join(potential.elements)}, "
                         f"not {' '.join(lacking)}")
    return sp


def _is_lammps_template(path: Path) -> bool:
    head = path.read_text(errors="replace").splitlines()[:6]
    return any(re.match(r"^\s*\d+\s+atoms\s*$", line) for line in head)


def md_defaults(lj: bool, has_hydrogen: bool = False) -> tuple[float, float]:
    """(timestep, thermostat damping) in the deck's units: metal ps, or LJ τ (100 steps' damping)."""
    if lj:
        return 0.005, 0.5
    dt = 0.0005 if has_hydrogen else 0.001
    return dt, 100 * dt


def kt(temperature: float, lj: bool) -> float:
    """k_B T in the deck's energy unit (eV in metal units, ε in LJ units)."""
    return temperature if lj else kB * temperature


def widom_mu(mu_rows: np.ndarray, kt_value: float, blocks: int = 10) -> tuple[float, float]:
    """μ_ex from per-invocation fix widom averages, and its block-average error.

    Each row is −kT ln⟨exp(−ΔU/kT)⟩ over one invocation's insertions (all invocations the same number),
    so the right estimator averages the Boltzmann factors w = exp(−μ/kT) over rows, not the μ values."""
    mu = np.asarray(mu_rows, float)
    mu = mu[np.isfinite(mu)]
    if mu.size < 2 * blocks:
        return float("nan"), float("nan")
    shift = mu.min()  # exp(-(mu - shift)/kT) <= 1: no overflow, same ratio
    w = np.exp(-(mu - shift) / kt_value)
    total = shift - kt_value * np.log(w.mean())
    per_block = [shift - kt_value * np.log(b.mean()) for b in np.array_split(w, blocks)]
    return float(total), float(np.std(per_block, ddof=1) / np.sqrt(blocks))


def running_mu(mu_rows: np.ndarray, kt_value: float, points: int = 50) -> pd.DataFrame:
    """μ_ex from the first n invocations, for n at `points` places: how the estimate converges."""
    mu = np.asarray(mu_rows, float)
    mu = mu[np.isfinite(mu)]
    if mu.size == 0:
        return pd.DataFrame({"samples": [], "mu_ex": []})
    shift = mu.min()
    cumulative = np.cumsum(np.exp(-(mu - shift) / kt_value)) / np.arange(1, mu.size + 1)
    at = np.unique(np.linspace(1, mu.size, min(points, mu.size)).astype(int))
    return pd.DataFrame({"samples": at, "mu_ex": shift - kt_value * np.log(cumulative[at - 1])})


def engine(structure, potential, sp: Species, params: MCParams, deletions: bool) -> dict:
    """Which MC engine runs, and why: the manifest's record of it and of the guard rail (mdrive.mc_guard).

    auto takes fix gcmc/widom (fast: LAMMPS scores trials inside the fix) where the guard passes, else mdrive's
    exact-trial engine (mdrive.mc_engine): a model computed in Python, or one whose trial deletions fix gcmc
    scores wrong. A failed round trip (insert then delete does not give the energy back) leaves no engine
    right, and is refused unless --unsafe; so is fix gcmc/widom after a failed guard."""
    bridge = potential.bridge is not None
    if params.engine == "fix" and bridge:  # said before the guard's energy evaluations
        raise InputError(f"fix gcmc/widom cannot score trials of a model computed in Python through the ASE bridge "
                         f"({potential.spec}): use --engine exact (or auto)")
    biased = getattr(params, "candidates", "uniform") != "uniform"
    if params.engine == "fix" and biased:
        raise InputError("fix gcmc inserts uniformly: --candidates voronoi needs --engine exact (or auto)")
    if sp.molecule is not None and (bridge or params.engine == "exact"):
        raise InputError(f"--species {sp.name}: mdrive's exact MC engine inserts single atoms; molecules need fix "
                         f"gcmc (--engine fix){', which this potential cannot use' if bridge else ''}")
    record = _guard(structure, potential, sp, deletions, params.seed)
    failure = record.pop("failure")
    if params.engine == "auto":
        chosen = "exact" if bridge or biased or failure and record["roundtrip_ok"] else "fix"
    else:
        chosen = params.engine
    if chosen == "exact" and sp.molecule is not None:
        raise InputError(f"--species {sp.name}: with {potential.spec}, fix gcmc's trial deletions are wrong (the MC "
                         f"guard) and mdrive's exact engine inserts single atoms: molecules cannot be exchanged")
    refused = bool(failure) and (chosen == "fix" or not record["roundtrip_ok"])
    if refused and not params.unsafe:
        raise InputError(failure)
    why = ("asked for (--engine)" if params.engine != "auto" else
           "the model is computed in Python (ASE bridge): fix gcmc/widom cannot score it" if bridge else
           "--candidates voronoi: fix gcmc inserts uniformly" if biased else
           "the MC guard failed for fix gcmc's trial deletions" if chosen == "exact" else "the MC guard passed")
    record.update(refused=refused, overridden_by_unsafe=refused)
    return {"mc_guard": record, "mc_engine": {"engine": "exact" if chosen == "exact" else "fix", "why": why}}


def _guard(structure, potential, sp: Species, deletions: bool, seed: int) -> dict:
    """The guard rail's outcome on rank 0, shared with every rank, with `failure` (why fix gcmc/widom would be
    wrong, or None)."""
    from mpi4py import MPI

    from mdrive import mc_guard

    world = MPI.COMM_WORLD
    outcome, failure = None, None
    if world.rank == 0:
        try:
            result = mc_guard.check(structure, potential, sp.elements[0], seed=seed)
            outcome, failure = result.as_dict(), result.failure(deletions)
        except Exception as err:  # reported as bad input on every rank, never a hang
            failure = f"MC guard could not run with {potential.spec}: {type(err).__name__}: {err}"
    outcome, failure = world.bcast((outcome, failure), root=0)
    if outcome is None:  # the guard itself failed: never overridable
        raise InputError(failure)
    return {**outcome, "failure": failure}


def engine_trace(run_dir: Path) -> pd.DataFrame | None:
    """The exact engine's trace (a row per MC invocation), the rows of whole numbers only: a row cut by a crash
    or edited by hand is dropped, not read as a sample."""
    from mdrive import mc_engine

    path = run_dir / mc_engine.TRACE
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None
    table = table.apply(pd.to_numeric, errors="coerce")
    return table.dropna().reset_index(drop=True) if "step" in table else None
