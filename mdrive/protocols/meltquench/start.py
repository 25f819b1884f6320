"""Start structures of a melt-quench: given files and their replicas, or built ones (random hard spheres
or a crystal at a density), and the reference crystal of the excess energy."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms

from mdrive.errors import InputError
from mdrive.structures import Structure, random_packing

if TYPE_CHECKING:  # annotations only: the params module imports this one
    from mdrive.protocols.meltquench import QuenchParams



@dataclass
class StartSpec:
    """A start structure built by mdrive when none is given."""
    element: str
    atoms: int
    density: float
    start: str
    r_min: float

    def check(self) -> None:
        from ase.data import atomic_numbers

        if self.element not in atomic_numbers:
            raise InputError(f"--element {self.element} is not a chemical element")

    def build(self, seed: int) -> Atoms:
        if self.start == "crystal":
            from ase.build import bulk  # here: ~0.6 s of imports

            cell = bulk(self.element, cubic=True)
            n = max(1, round((self.atoms / len(cell)) ** (1 / 3)))
            atoms = cell.repeat(n)
        else:
            atoms = random_packing(self.element, self.atoms, self.density, self.r_min, np.random.default_rng(seed))
        return scaled_to_density(atoms, self.density)

    def name(self) -> str:
        return f"{self.element}{self.atoms}-{self.start}-{self.density:g}gcc"


def scaled_to_density(atoms: Atoms, rho: float) -> Atoms:
    from mdrive.structure_analysis import density

    out = atoms.copy()
    out.set_cell(out.cell * (density(out) / rho) ** (1 / 3), scale_atoms=True)
    return out


@dataclass
class Replica:
    name: str
    structure: Structure
    replica: int
    seed: int


def replicas(structures: list[Structure], params: QuenchParams) -> list[Replica]:
    return [Replica(f"{s.name}-r{k}", s, k, params.seed + k) for s in structures for k in range(params.replicas)]


def generated(spec: StartSpec, params: QuenchParams) -> list[Replica]:
    """Random starts differ per replica (each its own packing); crystal starts share one structure."""
    if spec.start == "crystal":
        s = Structure(spec.name(), spec.build(params.seed), f"generated: {spec.start} {spec.element}")
        return replicas([s], params)
    return [Replica(f"{spec.name()}-r{k}",
                    Structure(f"{spec.name()}-r{k}", spec.build(params.seed + k),
                              f"generated: random {spec.element}, r_min {spec.r_min} Å, seed {params.seed + k}"),
                    k, params.seed + k) for k in range(params.replicas)]


def reference_crystal(elements: list[str], path: str | None) -> Structure | None:
    """The crystal the excess energy is measured against: a given file, else the element's ASE
    reference crystal (single-element runs only; none for mixtures)."""
    if path:
        from mdrive.structures import read

        found = read([path])
        if len(found) != 1:
            raise InputError(f"--reference {path} must hold exactly one structure (holds {len(found)})")
        if set(found[0].elements) != set(elements):
            raise InputError(f"--reference {path} holds {', '.join(found[0].elements)}; the runs hold "
                             f"{', '.join(elements)}: the excess energy needs a crystal of the same elements")
        return Structure("reference-crystal", found[0].atoms, found[0].source)
    if len(elements) != 1:
        return None
    try:
        from ase.build import bulk

        atoms = bulk(elements[0], cubic=True).repeat(2)
    except (ValueError, RuntimeError):
        return None
    return Structure("reference-crystal", atoms, f"ASE reference crystal of {elements[0]}")
