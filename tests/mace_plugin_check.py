"""Run under mpirun by test_mace_plugin.py: one single point with mdrive's pair_style mace plugin, compared
with mace-torch's ASE calculator on the same trained model. Prints the largest deviations as JSON."""
import json
import sys

import mace  # noqa: F401  (before e3nn)
import numpy as np
from ase.build import bulk
from mace.calculators import MACECalculator
from mpi4py import MPI

from mdrive.runtime import new_lammps

plugin, export, trained, mode, repeat, elements = sys.argv[1:7]
repeat, elements = int(repeat), elements.split(",")
comm = MPI.COMM_WORLD
atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(repeat)
if len(elements) > 1:
    atoms.symbols[::3] = elements[0]
    atoms.symbols[1::3] = elements[1]
else:
    atoms.symbols[:] = elements[0]
atoms.rattle(0.05, seed=3)
atoms.set_cell(atoms.cell * [1.0, 1.02, 0.97], scale_atoms=True)
order = sorted(set(atoms.get_chemical_symbols()))
lmp = new_lammps(comm=comm)
lmp.command("units metal")
lmp.command("atom_style atomic")
lmp.command("atom_modify map yes")
lmp.command(f"region box prism 0 {atoms.cell[0, 0]} 0 {atoms.cell[1, 1]} 0 {atoms.cell[2, 2]} 0 0 0")
lmp.command(f"create_box {len(order)} box")
for k, el in enumerate(order, 1):
    lmp.command(f"mass {k} 1.0")
lmp.create_atoms(len(atoms), list(range(1, len(atoms) + 1)),
                 [order.index(s) + 1 for s in atoms.get_chemical_symbols()], atoms.positions.ravel().tolist())
lmp.command(f"plugin load {plugin}")
lmp.command(f"pair_style mace {mode}".strip())
lmp.command(f"pair_coeff * * {export} {' '.join(order)}")
lmp.command("thermo_style custom step pe pxx pyy pzz pxy pxz pyz")
lmp.command("run 0")
pe = lmp.get_thermo("pe")
pressure = np.array([lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")])
forces = np.array(lmp.gather_atoms("f", 1, 3)).reshape(-1, 3)
if comm.rank == 0:
    ref = atoms.copy()
    ref.calc = MACECalculator(model_paths=trained, default_dtype="float64", device="cpu")
    stress = ref.get_stress(voigt=True) * 1.602176634e6  # eV/Å³ -> bar; order xx yy zz yz xz xy
    expected = -stress[[0, 1, 2, 5, 4, 3]]
    print(json.dumps({
        "atoms": len(atoms), "ranks": comm.size,
        "energy_per_atom": abs(pe - ref.get_potential_energy()) / len(atoms),
        "force": float(np.abs(forces - ref.get_forces()).max()),
        "stress_rel": float(np.abs(pressure - expected).max() / np.abs(expected).max()),
    }))
