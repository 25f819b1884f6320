"""Quantities at the deck boundary: mdrive's declared units (mdrive.params.DIMENSIONS: GPa, K, ps, eV, Å) to
LAMMPS's unit style and back. The one place a conversion factor is written; a deck variable goes to run.json
with the unit LAMMPS reads it in (`deck_variables`)."""
from __future__ import annotations

# unit style -> dimension -> (LAMMPS's unit, its value of one declared unit); LJ's reduced values pass as given
STYLES = {
    "metal": {"pressure": ("bar", 1e4), "temperature": ("K", 1.0), "time": ("ps", 1.0), "energy": ("eV", 1.0),
              "length": ("Å", 1.0), "mass_density": ("g/cm^3", 1.0)},
    "lj": {},
}


def _factor(dim: str, style: str) -> float:
    return STYLES[style].get(dim, (None, 1.0))[1]


def to_lammps(value: float, dim: str, style: str = "metal") -> float:
    """A declared quantity (e.g. 500 GPa) in the unit LAMMPS reads under `style` (5e6 bar)."""
    return value * _factor(dim, style)


def from_lammps(value: float, dim: str, style: str = "metal") -> float:
    """A LAMMPS value under `style` (a thermo pressure in bar) in mdrive's declared unit (GPa)."""
    return value / _factor(dim, style)


def unit(dim: str, style: str = "metal") -> str:
    """The unit LAMMPS reads a quantity of `dim` in under `style` ('' for reduced LJ)."""
    return STYLES[style].get(dim, ("",))[0]


def deck_variables(quantities: dict[str, tuple[float, str]], style: str = "metal") -> tuple[dict, dict]:
    """Deck variables from declared quantities {name: (value, dimension)}: their values in LAMMPS's units and
    those units by name, which run.json keeps beside them."""
    values = {name: to_lammps(value, dim, style) for name, (value, dim) in quantities.items()}
    return values, {name: unit(dim, style) for name, (_, dim) in quantities.items()}
