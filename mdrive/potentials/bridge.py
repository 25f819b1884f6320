"""ASE-calculator bridge: any ASE calculator drives a LAMMPS run through `fix external`.

`--potential ase:MODULE:FACTORY[?key=value&...]` builds the calculator with FACTORY(**kwargs) (e.g.
`ase:mace.calculators:MACECalculator?model_paths=m.model&default_dtype=float64`). LAMMPS integrates,
thermostats and barostats; every step the callback hands the calculator the local atoms and returns
energy, forces and virial (`fix_modify ... energy yes virial yes`). One rank per run: under MPI the fix
sees only the local atoms, and a calculator needs them all.
"""
from __future__ import annotations

import functools
import importlib
import json
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from mdrive.errors import InputError
from mdrive.potentials.base import Potential

FIX = "mdrive_ase"


def ase(spec: str, arg: str) -> Potential:
    target, _, query = arg.partition("?")
    module, _, factory = target.partition(":")
    if not module or not factory:
        raise InputError(f"potential {spec}: write ase:MODULE:FACTORY[?key=value&...]")
    from ase.calculators.calculator import BaseCalculator

    make = _factory(module, factory)
    if not (isinstance(make, type) and issubclass(make, BaseCalculator)):  # a spec (a config file) runs no other code
        raise InputError(f"potential {spec}: {module}:{factory} is not an ASE calculator class; name one, e.g. "
                         f"ase:ase.calculators.emt:EMT")
    return bridged(spec, Calculator(module, factory, options(query, spec)))


def _factory(module: str, factory: str):
    try:
        return getattr(importlib.import_module(module), factory)
    except (ImportError, AttributeError, ValueError, TypeError) as err:
        raise InputError(f"ASE calculator {module}:{factory} cannot be loaded ({err}); install its package") from None


@dataclass(frozen=True)
class Calculator:
    """An ASE calculator by name: FACTORY(**kwargs) of MODULE."""

    module: str
    factory: str
    kwargs: dict


def bridged(spec: str, named: Calculator, family: str = "ase", files: tuple = (),
            elements: tuple[str, ...] | None = None) -> Potential:
    """The Potential that runs the `named` calculator through fix external; `files` are hashed into the
    manifest, `elements` (when the calculator does not tell) are what it covers."""
    module, factory, kwargs = named.module, named.factory, named.kwargs
    calculator = _calculator(module, factory, json.dumps(kwargs, sort_keys=True))
    cutoff = _cutoff(calculator, kwargs)

    def lines(els):
        # LAMMPS needs a pair style for its neighbour lists; the calculator finds its own neighbours
        return [f"pair_style zero {cutoff}", "pair_coeff * *",
                f"fix {FIX} all external pf/callback 1 1",
                f"fix_modify {FIX} energy yes virial yes"]

    return Potential(spec, family, ("zero",), lines, elements or _elements(calculator), files, multi_rank=False,
                     bridge=lambda els: {FIX: functools.partial(Bridge, calculator, els)},
                     about={"calculator": f"{module}:{factory}", **_package(module)})


def _package(module: str) -> dict:
    """The version of the package a calculator comes from, for the manifest."""
    from importlib import metadata

    dists = metadata.packages_distributions().get(module.split(".")[0], [])
    return {d: metadata.version(d) for d in dists}


class Bridge:
    """The fix external callback for one LAMMPS instance: types are re-read on every call because LAMMPS
    re-sorts atoms, and the virial is set on every call or the pressure goes stale.

    An exception cannot cross the callback into LAMMPS (ctypes prints it and LAMMPS goes on with zero forces,
    an ideal gas that would be scored valid), so a model that raises, or returns a non-finite energy, force or
    stress, is recorded in `failure` and the run is ended after this step (force_timeout); the run layer then
    reports it (run.run_deck), and the results layer drops the rows written from this step on."""

    def __init__(self, calculator, elements: list[str], lmp):
        from ase.data import atomic_numbers

        self.calculator, self.lmp = calculator, lmp
        self.numbers = np.array([atomic_numbers[e] for e in elements])  # of types 1..n
        self.atoms: Atoms | None = None  # one Atoms, updated in place: building one a step cost 3 % of a fast model
        self.failure: str | None = None
        # python-ace with an active set computes each atom's extrapolation grade: its largest is the fix's f_ID[1]
        self.grades = bool(getattr(calculator, "is_active_set_configured", False))
        if self.grades:
            lmp.fix_external_set_vector_length(FIX, 1)

    def __call__(self, _caller, step, nlocal, _tag, x, f):
        if self.failure is not None:  # the run is ending: never call a failed model again
            f[:nlocal] = 0.0
            return
        try:
            energy, forces, virial = self._evaluate(nlocal, x)
        except Exception as err:  # anything the model raises ends the run as an error at this step
            self._fail(f"{MODEL_RAISED} {step}: {_last_line(err)}", nlocal, f)
            return
        bad = [name for name, v in (("energy", energy), ("forces", forces), ("stress", virial))
               if not np.isfinite(v).all()]
        if bad:
            self._fail(f"{MODEL_NON_FINITE} {step}: {' and '.join(bad)}", nlocal, f)
            return
        f[:nlocal] = forces
        self.lmp.fix_external_set_energy_global(FIX, float(energy))
        self.lmp.fix_external_set_virial_global(FIX, virial)
        if self.grades:
            self.lmp.fix_external_set_vector(FIX, 1, float(np.max(self.calculator.results["gamma"])))

    def _evaluate(self, nlocal, x):
        lmp = self.lmp
        numbers = self.numbers[lmp.numpy.extract_atom("type")[:nlocal] - 1]
        lo, hi, xy, yz, xz, _periodic, _changed = lmp.extract_box()
        cell = [[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]]
        positions = np.asarray(x[:nlocal]) - lo
        atoms = self.atoms
        if atoms is None or len(atoms) != nlocal:
            atoms = self.atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=True)
            atoms.calc = self.calculator
        else:  # the calculator sees every change: it compares against its own copy of the last atoms
            atoms.numbers, atoms.positions = numbers, positions
            atoms.set_cell(cell)
        energy = atoms.get_potential_energy()
        forces = np.asarray(atoms.get_forces(), dtype=float)
        s = np.asarray(atoms.get_stress(voigt=True), dtype=float) * atoms.get_volume()  # ASE: xx yy zz yz xz xy, eV
        return float(energy), forces, [-s[0], -s[1], -s[2], -s[5], -s[4], -s[3]]  # LAMMPS: xx yy zz xy xz yz

    def _fail(self, why: str, nlocal, f) -> None:
        self.failure = why
        f[:nlocal] = 0.0
        self.lmp.force_timeout()  # the run ends after this step, and every later run at its first


# how a failed model reads in a run's error (metrics.UNSTABLE makes non-finite output `invalid`)
MODEL_RAISED, MODEL_NON_FINITE = "the model raised at step", "the model returned non-finite values at step"


def _last_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1]}" if lines else type(err).__name__


@functools.cache
def _calculator(module: str, factory: str, kwargs_json: str):
    """One calculator per process and spec: loading a model is the expensive part."""
    make = _factory(module, factory)
    try:
        return make(**json.loads(kwargs_json))
    except Exception as err:  # any failure of a third-party constructor is bad input here
        raise InputError(f"ASE calculator {module}:{factory} failed to start: {type(err).__name__}: {err}") from None


def options(query: str, spec: str, known: tuple[str, ...] | None = None) -> dict:
    """`key=value&...` of a spec (values read as JSON where they parse, else as text); `known` limits the keys."""
    out = {}
    for item in filter(None, query.split("&")):
        key, sep, value = item.partition("=")
        if not sep or (known is not None and key not in known):
            takes = f"; it takes {', '.join(k + '=' for k in known)}" if known else ""
            raise InputError(f"potential {spec}: '{item}' is not a key=value option{takes}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _cutoff(calculator, kwargs: dict) -> float:
    """The model's cutoff for `pair_style zero` (LAMMPS's ghosts and neighbour lists; the calculator finds its own
    neighbours): a MACE or nequip model's r_max where the calculator tells, else 5 Å."""
    told = getattr(calculator, "r_max", 0) or getattr(calculator, "cutoff", 0) or kwargs.get("cutoff", 0)
    for transform in getattr(calculator, "transforms", ()):  # nequip's neighbour-list transform
        told = told or getattr(transform, "r_max", 0)
    return float(told or 5.0)


def _elements(calculator) -> tuple[str, ...] | None:
    from ase.data import chemical_symbols

    zs = getattr(getattr(calculator, "z_table", None), "zs", None)
    if zs is not None:  # MACE
        return tuple(chemical_symbols[int(z)] for z in zs)
    for transform in getattr(calculator, "transforms", ()):  # nequip: its type names, when they are elements
        names = getattr(transform, "model_type_names", None)
        if names and all(n in chemical_symbols for n in names):
            return tuple(names)
    return None
