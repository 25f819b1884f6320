"""Guard rail before Monte Carlo with a potential (docs/protocols §4.3): does LAMMPS's MC bookkeeping see
the energy change a direct recomputation gives?

`fix gcmc`/`fix widom` score an insertion by adding the atom and recomputing the full energy, and a
trial deletion by excluding the atom from every interaction (`neigh_modify exclude`), not by removing it.
`pair_style mliap` ignores that exclusion (lammps#5081, mace#1519), so deletions come out wrong. Checked
here on the exact build, potential and structure, one rank, in a scratch folder:

1. round trip: E(N) -> insert one atom at a random open site -> E(N+1) -> delete it -> must give E(N) back;
2. exclusion: E with atom k excluded must equal E(N-1) (atom k truly deleted) plus E_iso, the energy the
   potential gives an isolated atom; E_excl = E(N) means the exclusion was ignored.
"""
from __future__ import annotations

import contextlib
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from mdrive import decks
from mdrive.potentials import Potential
from mdrive.runtime import new_lammps
from mdrive.structures import Structure, write_data

TOLERANCE = 1e-4  # eV: far above fp64 round-off of total energies (~1e-9 eV here), far below any real ΔE
MIN_GAP = 1.6  # Å: an inserted atom is placed at least this far from every atom


@dataclass
class GuardResult:
    potential: str
    species: str
    tolerance: float
    e_isolated: float | None = None
    roundtrip_errors: list[float] = field(default_factory=list)  # |E(N) after insert+delete - E(N)|
    insertion_energies: list[float] = field(default_factory=list)  # E(N+1) - E(N)
    exclusion_errors: list[float] = field(default_factory=list)  # E_excl - (E(N-1) + E_iso)
    exclusion_ignored: int = 0  # trials where E_excl == E(N) although deleting changes the energy

    @property
    def roundtrip_ok(self) -> bool:
        return bool(self.roundtrip_errors) and max(self.roundtrip_errors) <= self.tolerance

    @property
    def exclusion_ok(self) -> bool:
        return bool(self.exclusion_errors) and max(map(abs, self.exclusion_errors)) <= self.tolerance

    def as_dict(self) -> dict:
        return {**asdict(self), "roundtrip_ok": self.roundtrip_ok, "exclusion_ok": self.exclusion_ok}

    def failure(self, deletions: bool) -> str | None:
        """Why MC must be refused, or None. Widom only inserts, so only gcmc needs the exclusion path."""
        name = f"potential {self.potential}"
        if not self.roundtrip_ok:
            return (f"MC guard: with {name}, inserting then deleting a {self.species} atom does not restore the "
                    f"energy (off by {max(self.roundtrip_errors, default=float('nan')):.3g} eV > "
                    f"{self.tolerance:g} eV); MC energies would be wrong")
        if deletions and not self.exclusion_ok:
            ignored = " LAMMPS's exclusion of a trial-deleted atom is ignored" if self.exclusion_ignored else ""
            return (f"MC guard: with {name}, a trial deletion as fix gcmc scores it is off by "
                    f"{max(map(abs, self.exclusion_errors)):.3g} eV from a true deletion.{ignored} (the known "
                    f"bug of lammps#5081 / mace#1519 for pair_style mliap); --unsafe runs anyway and records it")
        return None


def check(structure: Structure, potential: Potential, species: str, trials: int = 10, seed: int = 1,
          tolerance: float = TOLERANCE) -> GuardResult:
    elements = sorted(set(structure.elements) | {species}, key=_z)
    result = GuardResult(potential.spec, species, tolerance)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="mdrive-guard-") as tmp:
        folder = Path(tmp)
        result.e_isolated = _isolated_energy(folder, potential, elements, species)
        lmp = instance(folder, "system", structure.atoms, potential, elements)
        try:
            kind = elements.index(species) + 1
            e_n = energy(lmp)
            for _ in range(trials):
                _insert(lmp, kind, _open_site(lmp, rng))
                e_plus = energy(lmp)
                _delete_last(lmp)
                result.insertion_energies.append(e_plus - e_n)
                result.roundtrip_errors.append(abs(energy(lmp) - e_n))
            for k in rng.choice(_ids(lmp), size=min(trials, len(structure.atoms)), replace=False):
                e_excl, e_minus = _excluded(lmp, int(k)), _deleted(lmp, int(k))
                result.exclusion_errors.append(e_excl - (e_minus + result.e_isolated))
                if abs(e_excl - e_n) <= tolerance < abs(e_n - e_minus - result.e_isolated):
                    result.exclusion_ignored += 1
        finally:
            lmp.close()
    return result


def _z(symbol: str) -> int:
    from ase.data import atomic_numbers

    return atomic_numbers[symbol]


SETUP = ["units metal", "atom_style atomic", "atom_modify map yes", "boundary p p p",
         f"read_data {decks.DATA}", f"include {decks.POTENTIAL}", "thermo_modify lost ignore"]


def instance(folder: Path, name: str, atoms: Atoms, potential: Potential, elements: list[str]):
    """A one-rank LAMMPS instance of `atoms` with `potential` in `folder/name`, for energies by `energy`."""
    run = folder / name
    run.mkdir()
    write_data(atoms, run / decks.DATA, elements)
    (run / decks.POTENTIAL).write_text(decks.potential_text(potential, elements))
    lmp = new_lammps(log=run / "log.lammps")
    with contextlib.chdir(run):  # the potential include names its files relative to here
        lmp.commands_list(SETUP)
    lmp.mdrive_models = []  # a model evaluated in Python (ASE bridge): energy() asks whether it failed
    for fix, factory in potential.callbacks(elements).items():
        lmp.mdrive_models.append(factory(lmp))
        lmp.set_fix_external_callback(fix, lmp.mdrive_models[-1])
    return lmp


def _isolated_energy(folder: Path, potential: Potential, elements: list[str], species: str) -> float:
    """Energy of one atom alone: a 30 Å cubic cell, wider than twice any cutoff here."""
    lmp = instance(folder, "isolated", Atoms(species, positions=[[15, 15, 15]], cell=[30] * 3, pbc=True),
                    potential, elements)
    try:
        return energy(lmp)
    finally:
        lmp.close()


def energy(lmp) -> float:
    """The potential energy of `instance`'s system now. A model that raised inside its callback leaves LAMMPS the
    last energy it set (an exception cannot cross the callback): that is raised here, never returned as a number."""
    lmp.command("run 0 post no")
    failed = [m.failure for m in getattr(lmp, "mdrive_models", []) if m.failure]
    e = float(lmp.get_thermo("pe"))
    if failed or not np.isfinite(e):
        raise RuntimeError(failed[0] if failed else f"the energy is not finite ({e})")
    return e


def _ids(lmp) -> np.ndarray:
    return np.array(lmp.numpy.extract_atom("id")[: lmp.extract_global("nlocal")], dtype=int)


def _open_site(lmp, rng) -> np.ndarray:
    """A random point of the cell (triclinic too) at least MIN_GAP from every atom (minimum image)."""
    boxlo, boxhi, xy, yz, xz, _periodic, _changed = lmp.extract_box()
    lo, lengths = np.array(boxlo), np.array(boxhi) - np.array(boxlo)
    cell = np.array([[lengths[0], 0, 0], [xy, lengths[1], 0], [xz, yz, lengths[2]]])  # rows: a, b, c
    to_fractional = np.linalg.inv(cell)
    x = np.array(lmp.numpy.extract_atom("x")[: lmp.extract_global("nlocal")])
    for _ in range(10000):
        p = lo + rng.random(3) @ cell
        d = (x - p) @ to_fractional
        d = (d - np.round(d)) @ cell
        if np.min(np.einsum("ij,ij->i", d, d)) >= MIN_GAP ** 2:
            return p
    raise RuntimeError("MC guard: no open site to insert an atom (the structure is too dense)")


def _insert(lmp, kind: int, site: np.ndarray) -> None:
    """create_atoms at `site`; LAMMPS skips, silently, a point it places outside the box."""
    before = lmp.get_natoms()
    lmp.command(f"create_atoms {kind} single {site[0]} {site[1]} {site[2]} units box")
    if lmp.get_natoms() != before + 1:
        raise RuntimeError(f"MC guard: LAMMPS did not create the trial atom at {np.round(site, 3).tolist()} Å")


def _delete_last(lmp) -> None:
    lmp.command(f"group mdrive_trial id {int(_ids(lmp).max())}")
    lmp.command("delete_atoms group mdrive_trial compress no")
    lmp.command("group mdrive_trial delete")


def _excluded(lmp, k: int) -> float:
    """Energy with atom k excluded from all interactions: how fix gcmc scores a trial deletion."""
    lmp.command(f"group mdrive_trial id {k}")
    lmp.command("neigh_modify exclude group mdrive_trial all")
    try:
        return energy(lmp)
    finally:
        lmp.command("neigh_modify exclude none")
        lmp.command("group mdrive_trial delete")


def _deleted(lmp, k: int) -> float:
    """Energy with atom k truly deleted; the atom is put back afterwards (same type and place)."""
    ids = _ids(lmp)
    i = int(np.flatnonzero(ids == k)[0])
    kind = int(lmp.numpy.extract_atom("type")[i])
    pos = np.array(lmp.numpy.extract_atom("x")[i])
    lmp.command(f"group mdrive_trial id {k}")
    lmp.command("delete_atoms group mdrive_trial compress no")
    lmp.command("group mdrive_trial delete")
    e = energy(lmp)
    _insert(lmp, kind, pos)
    return e
