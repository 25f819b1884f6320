"""Structures: ASE Atoms in (any format ASE reads), LAMMPS data files out, random-mixture generator."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers, covalent_radii, reference_states

from mdrive.errors import InputError

# Every ase.io call passes parallel=False: once mpi4py is loaded, ASE otherwise writes on rank 0 only and
# reads with a broadcast over COMM_WORLD, which blocks ranks that are busy with their own runs.

# Closest approach a structure may have before it is refused as overlapping (Å). Real crystals and
# liquids stay above ~1.5 Å except for H–X bonds (~0.74 Å in H2), so 0.5 Å only catches broken inputs.
MIN_DISTANCE = 0.5


@dataclass(frozen=True)
class Structure:
    name: str  # unique within one invocation; names the run directory
    atoms: Atoms
    source: str  # file (and frame) it came from
    note: str = ""  # what mdrive changed, said once on stderr and kept in the manifest

    @property
    def elements(self) -> list[str]:
        """Element symbols present, ordered by atomic number: LAMMPS type k holds elements[k-1]."""
        return sorted(set(self.atoms.get_chemical_symbols()), key=atomic_numbers.get)

    @property
    def has_hydrogen(self) -> bool:
        return "H" in self.atoms.get_chemical_symbols()


def read(sources: list[str], rejected: dict | None = None) -> list[Structure]:
    """Every frame of every file (folders: every file inside, sorted); refuses what cannot be simulated.
    With a `rejected` dict, an unreadable file or an unsound structure is recorded there (name -> why)
    instead, and the others are returned: one bad structure then does not stop a large ensemble."""
    files = []
    for src in sources:
        path = Path(src)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"structure file '{src}' does not exist")
    structures = []
    for path in files:
        if len(path.stem.encode()) > MAX_NAME:  # runs/NAME-ENSEMBLE/... must stay a valid file name
            raise InputError(f"structure file {path.name[:40]}... has a {len(path.stem.encode())}-byte name; runs are "
                             f"named after it: rename it to at most {MAX_NAME} bytes")
        try:
            frames = _read_frames(path)
        except InputError as err:
            if rejected is None:
                raise
            rejected[path.stem] = str(err)
            continue
        for k, atoms in enumerate(frames):
            name = path.stem if len(frames) == 1 else f"{path.stem}-{k:04d}"
            structures.append(Structure(name, atoms, f"{path}@{k}"))
    _unique_names(structures)
    kept = []
    for s in structures:
        try:
            check(s)
            kept.append(s)
        except InputError as err:
            if rejected is None:
                raise
            rejected[s.name] = str(err)
    return kept


MAX_NAME = 200  # bytes of a structure's name: its run folders add a suffix, and file names stop at 255


def _read_frames(path: Path) -> list[Atoms]:
    import ase.io  # here, not at the top: ~0.7 s that a refused option should not wait for

    try:
        if path.name.endswith((".data", ".lmp")) or path.name.startswith("data."):
            frames = [ase.io.read(path, format="lammps-data", atom_style="atomic", units="metal", parallel=False)]
        else:
            frames = ase.io.read(path, index=":", parallel=False)
    except Exception as err:  # ASE raises many types for unreadable files
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"cannot read structures from {path}: {why}; give a file ASE can read (extxyz, cif, "
                         f"POSCAR, ASE db, LAMMPS data)") from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames or all(len(a) == 0 for a in frames):
        raise InputError(f"{path} holds no atoms")
    return frames


def _unique_names(structures: list[Structure]) -> None:
    seen = {}
    for s in structures:
        seen[s.name] = seen.get(s.name, 0) + 1
    dup = [n for n, c in seen.items() if c > 1]
    if dup:
        raise InputError(f"two structure files share the name '{dup[0]}': rename one so runs stay apart")


def check(s: Structure, min_distance: float = MIN_DISTANCE) -> None:
    atoms = s.atoms
    if len(atoms) == 0:
        raise InputError(f"structure {s.name} ({s.source}) has no atoms")
    if not (np.isfinite(atoms.positions).all() and np.isfinite(atoms.cell.array).all()):
        raise InputError(f"structure {s.name} ({s.source}) has non-finite (NaN or infinite) coordinates or cell; "
                         f"fix or drop it")
    if atoms.cell.rank < 3 or atoms.get_volume() <= 1e-6:
        raise InputError(f"structure {s.name} ({s.source}) has no 3-D cell; give a periodic cell")
    if not atoms.pbc.all():
        atoms.pbc = True  # LAMMPS runs here are periodic in x, y and z
    atoms.wrap()  # LAMMPS's read_data walks an atom far outside the box back image by image (1e12 Å: 139 s)
    d = closest_distance(atoms, min_distance)
    if d < min_distance:
        raise InputError(f"structure {s.name} ({s.source}) has atoms {d:.3f} Å apart, closer than "
                         f"{min_distance} Å: fix or drop it")


def fit_to_cutoff(s: Structure, cutoff: float | None) -> Structure:
    """The structure, repeated along each cell vector across which it is narrower than twice the potential's
    cutoff, so that no atom meets its own periodic image within the cutoff (the note says so)."""
    if not cutoff or len(s.atoms) < 2:  # one atom is refused where a temperature acts, never grown into a crystal
        return s
    cell = s.atoms.cell
    widths = s.atoms.get_volume() / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    reps = [max(1, int(np.ceil(2 * cutoff / w))) for w in widths]
    if reps == [1, 1, 1]:
        return s
    grid = "x".join(map(str, reps))
    atoms = s.atoms.repeat(reps)
    return Structure(s.name, atoms, f"{s.source} repeated {grid}",
                     f"structure {s.name} is {min(widths):.2f} Å across, less than twice the potential's {cutoff:g} Å "
                     f"cutoff: mdrive runs it repeated {grid} ({len(atoms)} atoms)")


def closest_distance(atoms: Atoms, cutoff: float) -> float:
    """Shortest interatomic distance if below `cutoff`, else `cutoff` (periodic images included)."""
    if len(atoms) == 1 and min(atoms.cell.lengths()) >= cutoff:
        return cutoff
    from ase.neighborlist import neighbor_list

    d = neighbor_list("d", atoms, cutoff, self_interaction=False)
    return float(d.min()) if len(d) else cutoff


def write_data(atoms: Atoms, path: Path, elements: list[str], atom_style: str = "atomic") -> None:
    """LAMMPS data file (metal units, masses) with type k = elements[k-1]; atom_style atomic, or full
    (charges 0, every atom its own molecule id) where molecules will be inserted."""
    if atom_style == "full" and "mol-id" not in atoms.arrays:
        atoms = atoms.copy()
        atoms.new_array("mol-id", np.arange(1, len(atoms) + 1))
    import ase.io

    with open(path, "w") as f:
        ase.io.write(f, atoms, format="lammps-data", specorder=elements, masses=True, parallel=False,
                     units="metal", atom_style=atom_style)


def formula(atoms: Atoms) -> str:
    return atoms.get_chemical_formula(mode="hill")


# --- random mixtures (like MLIP Arena's RM24 set, whose database is only on a model hub) -------------

EXPANSION = 1.05  # cell volume over the sum of elemental atomic volumes: a dense, liquid-like packing
_ATOMS_PER_CELL = {"fcc": 4, "bcc": 2, "sc": 1, "diamond": 8}


def atomic_volume(symbol: str) -> float:
    """Volume per atom (Å³) of the element's reference crystal (ASE's table); for molecular or
    unlisted ground states, a covalent-radius sphere at 50 % packing."""
    state = reference_states[atomic_numbers[symbol]] or {}
    kind, a = state.get("symmetry"), state.get("a")
    if kind in _ATOMS_PER_CELL and a:
        return a ** 3 / _ATOMS_PER_CELL[kind]
    if kind == "hcp" and a:
        return np.sqrt(3) / 4 * a ** 3 * state.get("c/a", 1.633)
    return 4 / 3 * np.pi * covalent_radii[atomic_numbers[symbol]] ** 3 / 0.5


def random_mixture(elements: list[str], n_atoms: int, rng: np.random.Generator) -> Atoms:
    """A random composition over 2..len(elements) of `elements`, randomly packed in a cubic cell
    of `EXPANSION` × the elemental volumes, no two atoms closer than 0.7 × their covalent radii."""
    k = int(rng.integers(min(2, len(elements)), len(elements) + 1))
    chosen = list(rng.choice(elements, size=k, replace=False))
    counts = np.ones(k, dtype=int) + rng.multinomial(n_atoms - k, rng.dirichlet(np.ones(k)))
    symbols = [e for e, c in zip(chosen, counts) for _ in range(c)]
    rng.shuffle(symbols)
    radii = covalent_radii[[atomic_numbers[s] for s in symbols]]
    length = (EXPANSION * sum(atomic_volume(s) for s in symbols)) ** (1 / 3)
    positions = _pack(0.7 * radii, length, rng)
    return Atoms(symbols, positions=positions, cell=[length] * 3, pbc=True)


def random_packing(symbol: str, n_atoms: int, density_g_cm3: float, r_min: float,
                   rng: np.random.Generator) -> Atoms:
    """A random hard-sphere model: `n_atoms` atoms no closer than `r_min` in a cubic cell at the density."""
    from ase.units import _amu

    mass = n_atoms * atomic_masses[atomic_numbers[symbol]] * _amu * 1e3  # g
    length = (mass / density_g_cm3 * 1e24) ** (1 / 3)  # Å
    positions = _pack(np.full(n_atoms, r_min / 2), length, rng)
    return Atoms([symbol] * n_atoms, positions=positions, cell=[length] * 3, pbc=True)


def _pack(radii: np.ndarray, length: float, rng: np.random.Generator, tries: int = 2000) -> np.ndarray:
    """Random sequential insertion, atoms i and j at least radii[i] + radii[j] apart (minimum image). A trial
    is checked only against the atoms of its own and the neighbouring bins of a cell list, so that 10^5
    atoms pack in seconds rather than hours (the placements are the same as checking every atom)."""
    n = len(radii)
    reach = 2 * float(radii.max()) if n else 1.0
    bins = max(1, int(length // reach))  # a bin is at least the largest contact distance wide
    placed, placed_r = np.empty((n, 3)), np.empty(n)
    members: dict[tuple[int, int, int], list[int]] = {}
    around = functools.cache(lambda home: tuple({tuple((h + d) % bins for h, d in zip(home, (a, b, c)))
                                                  for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)}))
    for k, r in enumerate(radii):
        for _ in range(tries):
            p = rng.random(3) * length
            home = tuple(min(int(x * bins // length), bins - 1) for x in p)
            near = [i for b in around(home) for i in members.get(b, ())]
            delta = placed[near] - p
            delta -= length * np.round(delta / length)
            if not near or np.all(np.einsum("ij,ij->i", delta, delta) >= (placed_r[near] + r) ** 2):
                break
        else:
            raise InputError(f"could not pack {n} atoms without overlaps; use fewer atoms per cell")
        placed[k], placed_r[k] = p, r
        members.setdefault(home, []).append(k)
    return placed


# --- the Cantor-alloy benchmark system (MACE-MP-0 §A32) ------------------------------------------------

CANTOR_ELEMENTS = ("Mn", "Cr", "Fe", "Co", "Ni", "Cu", "Ag", "W", "Mo", "Nb", "Al", "Cd", "Sn", "Pb", "Bi", "Zn",
                   "Ge", "Si", "Sb", "Mg")


def cantor(n_atoms: int, elements: tuple[str, ...] = CANTOR_ELEMENTS, lattice: float = 3.6,
           seed: int = 2024) -> Atoms:
    """An FCC supercell of about `n_atoms` (a multiple of 20: whole 20-atom cells, i.e. 5 conventional
    cells each), as cube-like as the count allows, its sites decorated at random, equimolar over
    `elements`, deterministic for `seed`."""
    from ase.build import bulk

    conventional = 5 * max(1, round(n_atoms / 20))
    atoms = bulk("Cu", "fcc", a=lattice, cubic=True).repeat(grid(conventional))
    rng = np.random.default_rng(seed)
    symbols = [elements[k % len(elements)] for k in range(len(atoms))]
    rng.shuffle(symbols)
    atoms.set_chemical_symbols(symbols)
    return atoms


def grid(cells: int) -> tuple[int, int, int]:
    """Three factors of `cells`, as equal as possible: the most cube-like replication."""
    best = (cells, 1, 1)
    for a in range(1, round(cells ** (1 / 3)) + 2):
        if cells % a:
            continue
        for b in range(a, round((cells / a) ** 0.5) + 2):
            if (cells // a) % b == 0:
                c = cells // a // b
                if max(a, b, c) - min(a, b, c) < max(best) - min(best):
                    best = (a, b, c)
    return best
