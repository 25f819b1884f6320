"""Run in its own process by the tests: one single point of an mdrive potential inside LAMMPS (its own include
lines, plugin and bridge callbacks, as a run uses them) on STRUCTURE (extxyz), and, with --run N, N steps of
NVE after it; under mpirun on all ranks. Prints JSON: energy, forces (in the file's atom order), the pressure tensor in bar, and the
thermo rows of the NVE steps."""
import argparse
import json
import os
import tempfile

import ase.io
import numpy as np
from mpi4py import MPI

from mdrive import potentials
from mdrive.runtime import load_torch_first, new_lammps
from mdrive.structures import write_data

parser = argparse.ArgumentParser()
parser.add_argument("spec")
parser.add_argument("structure")
parser.add_argument("--backend", default="auto")
parser.add_argument("--run", type=int, default=0, help="NVE steps after the single point")
parser.add_argument("--dt", type=float, default=0.001)
args = parser.parse_args()

load_torch_first()
potential = potentials.load(args.spec, args.backend)
atoms = ase.io.read(args.structure)
elements = sorted(set(atoms.get_chemical_symbols()))
os.chdir(tempfile.mkdtemp(prefix="mdrive-single-point-"))
write_data(atoms, "s.data", elements)
lmp = new_lammps(MPI.COMM_WORLD, log="log.lammps")
for line in ["units metal", "atom_style atomic", "atom_modify map yes", "read_data s.data",
             *potential.lines(elements), "thermo_style custom step pe ke etotal temp pxx pyy pzz pxy pxz pyz",
             "thermo_modify format float %.10g"]:
    lmp.command(line)
for fix, factory in potential.callbacks(elements).items():
    lmp.set_fix_external_callback(fix, factory(lmp))
lmp.command("run 0")
keys = ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")
out = {"family": potential.family, "energy": lmp.get_thermo("pe"),
       "pressure": [lmp.get_thermo(k) for k in keys]}
out["forces"] = np.asarray(lmp.gather_atoms("f", 1, 3)).reshape(-1, 3).tolist()  # by atom id: the file's order
first_rank = lmp.extract_setting("world_rank") == 0  # under mpirun, one answer
if args.run:  # one `run`: a fix external callback (the ASE bridge) is set up by the run's own pre-run set-up
    lmp.command("velocity all create 600 4928 mom yes rot yes dist gaussian")
    lmp.command(f"timestep {args.dt}")
    lmp.command("fix nve all nve")
    lmp.command("thermo 1")
    lmp.command("thermo_style custom step pe ke etotal")
    lmp.command("thermo_modify format float %.15g")
    lmp.command(f"run {args.run}")
    lmp.close()  # the log is complete
    from mdrive.logs import read_log

    assert first_rank, "NVE steps run on one rank"

    thermo = read_log("log.lammps").runs[-1].thermo
    out["thermo"] = thermo[["Step", "PotEng", "KinEng", "TotEng"]].iloc[1:].to_numpy(float).tolist()  # steps 1..N
if first_rank:
    print("RESULT " + json.dumps(out))
