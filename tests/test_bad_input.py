"""Bad input, over every command: one line on stderr naming the option and the fix, exit code 2, nothing
written, no traceback. The cases run in one process (tests/bad_input_runner.py) so that 100+ of them cost
seconds; one case also runs as its own `python -m mdrive` process, and one under mpirun -np 2."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from helpers import ENV, ROOT, copper, mdrive, write_structures

CU = ["--potential", "eam:Cu_u3.eam"]
CUNI = ["--potential", "eam/alloy:CuNi.eam.alloy"]
LJ_GCMC = ["gcmc", "--lj", "--temperature", "2.0", "--out", "{d}/out"]
LJ_WIDOM = ["widom", "--lj", "--temperature", "2.0", "--out", "{d}/out"]
MQ = ["meltquench", "{d}/cu.extxyz", *CU, "--out", "{d}/out"]
GCMC = ["gcmc", "{d}/cu.extxyz", *CU, "--species", "Cu", "--temperature", "300", "--out", "{d}/out"]
SCALE = ["scaling", "plan", "--kind", "weak", "--potential", "eam/alloy:CuNi.eam.alloy", "--atoms-per-rank", "500",
         "--ranks", "1,2", "--out", "{d}/study"]


def ramp(*extra):
    return ["ramp", "{d}/cu.extxyz", *CU, "--out", "{d}/out", *extra]


CASES = [
    # the command line itself
    (["bogus"], "invalid choice: 'bogus'"),
    (ramp("--no-such-option"), "unrecognized arguments"),
    (["ramp", "{d}/cu.extxyz", *CU, "--timestep"], "expected one argument"),
    # structures
    (["ramp", "{d}/missing.extxyz", *CU], "structure file '{d}/missing.extxyz' does not exist"),
    (["ramp", "{d}/empty.extxyz", *CU], "empty.extxyz"),
    (["ramp", "{d}/garbage.extxyz", *CU], "cannot read structures from"),
    (["ramp", "{d}/nocell.xyz", *CU], "has no 3-D cell"),
    (["ramp", "{d}/close.extxyz", *CU], "0.300 Å apart, closer than 0.5 Å"),
    (["ramp", "{d}/nan.extxyz", *CU], "non-finite (NaN or infinite) coordinates"),
    (["ramp", "{d}/one.extxyz", *CU], "has 1 atom; a temperature ramp needs at least 2"),
    (["ramp", "{d}/fe.extxyz", *CUNI], "covers Ni Cu but the structure has Fe"),
    (["ramp", "{d}/dup", *CU], "two structure files share the name"),
    # potentials
    (["ramp", "{d}/cu.extxyz"], "--potential is required"),
    (ramp("--potential", "eam:nothere.eam"), "potential file 'nothere.eam' not found"),
    (ramp("--potential", "magic:x"), "unknown potential 'magic:x'"),
    (ramp("--potential", "eam"), "names no file: write eam:FILE"),
    (ramp("--potential", "mace:{d}/fake.model-lammps.pt", "--backend", "native"), "pair style 'mace'"),
    (ramp("--potential", "mace:{d}/fake.model-lammps.pt", "--backend", "ase"), "needs the trained MACE model"),
    (ramp("--potential", "eam/alloy:{d}/trunc.eam.alloy"), "the file is truncated or damaged"),
    (ramp("--potential", "eam:{d}/trunc.eam"), "the file is truncated or damaged"),
    (ramp("--potential", "eam/fs:CuNi.eam.alloy"), "is an eam/alloy file (one density table per element), not "
                                                   "eam/fs: use --potential eam/alloy:CuNi.eam.alloy"),
    (ramp("--potential", "eam/alloy:AlFe_mm.eam.fs"), "is an eam/fs file"),
    (ramp("--potential", "eam:CuNi.eam.alloy"), "not an eam funcfl file (it looks like an eam/alloy or eam/fs"),
    (ramp("--potential", "zbl:5,2"), "the inner cutoff must be below the outer one"),
    (ramp("--potential", "zbl:3"), "expected 2 positive numbers"),
    (ramp("--potential", "lj:1,2"), "expected 3 positive numbers"),
    (ramp("--potential", "{d}/badcoeff.yaml"), "LAMMPS refuses it for Cu: Incorrect args for pair coefficients"),
    (ramp("--potential", "{d}/nopair.yaml"), "needs 'pair_style' and 'pair_coeff' or 'pairs' keys"),
    (ramp("--potential", "{d}/broken.yaml"), "not valid YAML"),
    (ramp("--potential", "eam:{d}/with space/Cu_u3.eam"), "holds blanks, quotes, $, # or non-ASCII"),
    (ramp("--potential", "eam:{d}/é/Cu_u3.eam"), "holds blanks, quotes, $, # or non-ASCII"),
    (ramp("--potential", "snap:Nope"), "potential file 'Nope.snapcoeff' not found"),
    # numbers and units
    (ramp("--t-start", "-10"), "--t-start -10 K is out of range: it must be above 0 K"),
    (ramp("--t-stop", "0"), "--t-stop 0 K is out of range"),
    (ramp("--t-stop", "300GPa"), "--t-stop '300GPa' is not a temperature"),
    (ramp("--t-stop", "hot"), "--t-stop 'hot' is not a number with a unit"),
    (ramp("--timestep", "0"), "--timestep 0 ps is out of range: it must be above 0 ps"),
    (ramp("--timestep", "nan"), "--timestep nan: give a finite number"),
    (ramp("--timestep", "2"), "--timestep 2 ps is out of range: it must be above 0 ps and at most 0.02 ps"),
    (ramp("--timestep", "2parsec"), "--timestep '2parsec' is not a time; write e.g. 2fs or 0.002ps"),
    (ramp("--timestep", "1bar"), "is not a time"),
    (ramp("--duration", "-1"), "--duration -1 ps is out of range"),
    (ramp("--duration", "inf"), "--duration inf: give a finite number"),
    (ramp("--duration", "1e9ps"), "--duration 1e+09 ps is out of range"),
    (ramp("--tdamp", "25"), "--tdamp 25 ps is longer than the run (10 ps)"),
    (ramp("--pdamp", "75"), "--pdamp 75 ps is longer than the run (10 ps)"),
    (ramp("--tdamp", "0.1fs"), "--tdamp 0.1 fs is shorter than two timesteps"),
    (ramp("--tdamp", "0"), "--tdamp 0 ps is out of range"),
    (ramp("--p-stop", "20000"), "--p-stop 20000 GPa is out of range"),
    (ramp("--p-stop", "2e9bar"), "--p-stop 200000 GPa is out of range"),
    (ramp("--p-start", "-2e4"), "--p-start -20000 GPa is out of range"),
    (ramp("--p-stop", "5K"), "is not a pressure"),
    (ramp("--thermo-every", "0"), "--thermo-every 0 is out of range: it must be at least 1"),
    (ramp("--thermo-every", "1.5"), "--thermo-every 1.5: give a whole number"),
    (ramp("--thermo-every", "ten"), "--thermo-every 'ten' is not a number"),
    (ramp("--seed", "0"), "--seed 0 is out of range: it must be at least 1 and at most 2147483647"),
    (ramp("--seed", "3e9"), "--seed 3e+09 is out of range"),
    (ramp("--couple", "xyz"), "--couple 'xyz': choose one of iso, aniso, tri"),
    (ramp("--ensemble", "nve"), "--ensemble 'nve': choose one of nvt, npt, both"),
    (ramp("--preset", "nope"), "--preset 'nope': choose one of arena, mp-aloe"),
    (ramp("--backend", "gpu"), "--backend 'gpu': choose one of auto, native, plugin, ase"),
    # run options
    (ramp("--ranks-per-run", "2"), "--ranks-per-run 2 must divide the 1 MPI ranks"),
    (ramp("--ranks-per-run", "0"), "--ranks-per-run 0 is out of range"),
    (ramp("--gpus", "-1"), "--gpus -1 is out of range"),
    (ramp("--time-limit", "soon"), "--time-limit 'soon' is not a number with a unit"),
    (ramp("--time-limit", "0"), "--time-limit 0 s is out of range"),
    (ramp("--time-limit", "2K"), "--time-limit '2K' is not a walltime"),
    (ramp("--memory-per-run", "100MB"), "--memory-per-run 100 MB leaves a run's rank less than the 256 MB"),
    (ramp("--memory-per-run", "8 parsecs"), "--memory-per-run '8 parsecs' is not a memory; write e.g. 8GB"),
    (ramp("--memory-per-run", "2s"), "is not a memory"),
    (ramp("--retry-failed"), "--retry-failed continues a study: use it with --resume"),
    # output folders
    (["ramp", "{d}/cu.extxyz", *CU, "--out", "{d}/results"], "already holds results: add --resume"),
    (["ramp", "{d}/cu.extxyz", *CU, "--out", "{d}/notmdrive", "--resume"], "holds no manifest.json"),
    (["ramp", "{d}/cu.extxyz", *CU, "--out", "{d}/afile"], "exists and is not a folder"),
    (["ramp", "{d}/cu.extxyz", *CU, "--out", "{d}/afile/sub/out"], "is a file, not a folder"),
    (["ramp", "{d}/cu.extxyz", *CU, "--out", "{d}/results", "--overwrite"], "it holds no manifest.json"),
    # config files
    (ramp("--config", "{d}/missing.yaml"), "--config {d}/missing.yaml: cannot read it"),
    (ramp("--config", "{d}/broken.yaml"), "not valid YAML"),
    (ramp("--config", "{d}/unknown.yaml"), "--config: unknown option 'timestepp'; did you mean 'timestep'?"),
    (ramp("--config", "{d}/badval.yaml"), "--timestep 2 ps is out of range"),
    (ramp("--config", "{d}/alist.yaml"), "write a mapping of options to values"),
    # evscan
    (["evscan", "{d}/nocell.xyz", *CU, "--out", "{d}/out"], "has no 3-D cell"),
    (["evscan", "{d}/cu.extxyz", *CU, "--points", "3", "--out", "{d}/out"], "--points 3 is out of range"),
    (["evscan", "{d}/cu.extxyz", *CU, "--points", "2.5", "--out", "{d}/out"], "give a whole number"),
    (["evscan", "{d}/cu.extxyz", *CU, "--strain", "0.99", "--out", "{d}/out"], "--strain 0.99 is out of range"),
    (["evscan", "{d}/cu.extxyz", *CU, "--strain", "0.85", "--out", "{d}/out"],
     "squeezes structure cu's closest atoms to 0.38 Å"),
    (["evscan", "{d}/cu.extxyz", *CU, "--strain", "0", "--out", "{d}/out"], "--strain 0 is out of range"),
    (["evscan", "{d}/cu.extxyz", *CU, "--strain", "2fs", "--out", "{d}/out"], "is not a fraction"),
    (["evscan", *CU, "--out", "{d}/out"], "give STRUCTURE files or folders"),
    (["evscan", "{d}/cu.extxyz", "--out", "{d}/out"], "--potential is required"),
    # meltquench
    ([*MQ, "--schedule", "nvt:3000K:2ps, nvt:3000K->300K@100K, min"],
     "--schedule stage 2 'nvt:3000K->300K@100K': cannot read '3000K->300K@100K'"),
    ([*MQ, "--schedule", "nvt:300K:1ps,,min"], "--schedule stage 2 '': is empty"),
    ([*MQ, "--schedule", "nvt:300K:1ps:2GPa"], "nvt holds the cell fixed and takes no pressure; use npt"),
    ([*MQ, "--schedule", "nvt:300K:1ps:pot=eam:nothere.eam"], "potential file 'nothere.eam' not found"),
    ([*MQ, "--schedule", "nvt:300:1ps"], "cannot read '300'"),
    ([*MQ, "--schedule", ""], "--schedule is empty"),
    ([*MQ, "--schedule", "nvt:300K:1e12ps"], "1e+12 ps is longer than any MD run"),
    ([*MQ, "--schedule", "nvt:300K:1ps:dt=1ps"], "dt must be positive and at most 20 fs"),
    ([*MQ, "--schedule", "{d}/missing-schedule.yaml"], "cannot read it as YAML"),
    ([*MQ, "--schedule", "nvt:300K:1ps", "--timestep", "1"], "--timestep 1 ps is out of range"),
    ([*MQ, "--schedule", "nvt:300K:1ps", "--reference", "{d}/fe.extxyz"],
     "--reference {d}/fe.extxyz holds Fe, Cu; the runs hold Cu"),
    ([*MQ, "--schedule", "min", "--cutoff", "-1"], "--cutoff -1 Å is out of range"),
    ([*MQ, "--schedule", "min", "--ftol", "0"], "--ftol 0 eV/Å is out of range"),
    (MQ, "give --schedule"),
    ([*MQ, "--preset", "a-si", "--element", "Si"], "--element builds a start structure"),
    (["meltquench", *CU, "--schedule", "min", "--element", "Cu", "--out", "{d}/out"], "--element and --density"),
    (["meltquench", *CU, "--schedule", "min", "--element", "Cu", "--density", "-1", "--out", "{d}/out"],
     "--density -1 g/cm3 is out of range"),
    (["meltquench", *CU, "--schedule", "min", "--element", "Cu", "--density", "2.33kg", "--out", "{d}/out"],
     "is not a mass density"),
    (["meltquench", *CU, "--schedule", "min", "--element", "Qq", "--density", "8", "--out", "{d}/out"],
     "--element Qq is not a chemical element"),
    (["meltquench", *CU, "--schedule", "min", "--element", "Cu", "--density", "8", "--atoms", "1",
      "--out", "{d}/out"], "--atoms 1 is out of range"),
    (["meltquench", *CU, "--schedule", "min", "--element", "Cu", "--density", "8", "--start", "sphere",
      "--out", "{d}/out"], "--start 'sphere': choose one of random, crystal"),
    ([*MQ, "--schedule", "min", "--replicas", "0"], "--replicas 0 is out of range"),
    ([*MQ, "--schedule", "nvt:300K:1ps", "--tdamp", "100"], "--tdamp 100 ps is longer than the run (1 ps)"),
    # gcmc
    ([*GCMC[:5], "Qq", *GCMC[6:], "--mu", "-3"], "--species Qq is neither an element symbol nor a molecule file"),
    ([*GCMC[:5], "{d}/nocoords.xyz", *GCMC[6:], "--mu", "-3"], "cannot read a molecule with coordinates"),
    ([*GCMC[:5], "Fe", *GCMC[6:], "--mu", "-3"], "--species Fe: potential eam:Cu_u3.eam covers Cu, not Fe"),
    ([*GCMC, "--pressure", "-5bar"], "--pressure -0.0005 GPa is out of range"),
    ([*GCMC, "--pressure", "10"], "--pressure 10 GPa is out of range: it must be above 0 GPa and at most 0.1 GPa"),
    ([*GCMC, "--mu", "-3", "--pressure", "1bar"], "give the reservoir as --mu"),
    (GCMC, "give the reservoir as --mu"),
    ([*GCMC, "--mu", "abc"], "--mu 'abc' is not a number with a unit"),
    ([*GCMC, "--mu", "-3,,-2"], "--mu '-3,,-2': give a comma-separated list of values"),
    ([*GCMC, "--mu", "1fs"], "--mu '1fs' is not a energy"),
    ([*GCMC, "--mu", "-3", "--swap", "Cu"], "--swap Cu: write two different elements as A:B"),
    ([*GCMC, "--mu", "-3", "--swap", "Cu:Ni"], "--swap Cu:Ni: structure cu has Cu"),
    ([*GCMC, "--mu", "-3", "--exchanges", "0", "--moves", "0"], "nothing would be sampled"),
    ([*GCMC, "--mu", "-3", "--timestep", "1"], "--timestep 1 ps is out of range"),
    (["gcmc", "{d}/cu.extxyz", *CU, "--species", "Cu", "--mu", "-3", "--out", "{d}/out"], "give --temperature"),
    ([*LJ_GCMC, "--mu", "-3", "{d}/cu.extxyz"], "--lj builds its own Lennard-Jones fluid"),
    ([*LJ_GCMC, "--mu", "-3eV"], "--mu '-3eV': --lj runs in reduced Lennard-Jones units"),
    ([*LJ_GCMC, "--mu", "-3", "--density", "2"], "--density must lie in (0, 1.2)"),
    ([*LJ_GCMC, "--mu", "-3", "--swap", "A:B"], "give no --swap"),
    # widom
    (LJ_WIDOM, "--lj needs --density"),
    ([*LJ_WIDOM, "--density", "0.5", "--cutoff", "9"], "more than half the box"),
    ([*LJ_WIDOM, "--density", "0.5", "--cutoff", "2"], "--cutoff must be at least 2.5 σ"),
    ([*LJ_WIDOM, "--density", "0.5", "--timestep", "1fs"], "--lj runs in reduced Lennard-Jones units"),
    ([*LJ_WIDOM, "--density", "0.5,0.6,0.7", "--temperature", "1,2"], "--temperature has 2 values and --density 3"),
    ([*LJ_WIDOM, "--density", "0.5", "--steps", "100"], "gives fewer than 20 samples for 10 blocks"),
    (["widom", "--lj", "--density", "0.5", "--out", "{d}/out"], "give --temperature"),
    (["widom", "{d}/cu.extxyz", *CU, "--species", "Cu", "--temperature", "300,400", "--out", "{d}/out"],
     "lists of --temperature are for --lj"),
    (["widom", "{d}/cu.extxyz", *CU, "--temperature", "300", "--out", "{d}/out"],
     "this needs STRUCTURE files, --potential and --species"),
    (["widom", "{d}/one.extxyz", *CU, "--species", "Cu", "--temperature", "300", "--out", "{d}/out"],
     "has 1 atom; widom's NVT sampling needs at least 2"),
    # report
    (["report", "{d}/notmdrive"], "not an mdrive output folder"),
    (["report", "{d}/malformed"], "manifest.json"),
    (["report", "{d}/nowhere"], "nowhere"),
    # scaling plan
    ([*SCALE, "--lattice", "0"], "--lattice 0 Å is out of range"),
    ([*SCALE, "--steps", "0"], "--steps 0 is out of range"),
    ([*SCALE[:-4], "--ranks", "4,2", "--out", "{d}/study"], "must be positive and strictly increasing"),
    (SCALE[2:], "invalid choice"),
    (["scaling", "plan", "--potential", "eam:Cu_u3.eam", "--ranks", "1,2", "--out", "{d}/study"],
     "scaling plan needs --kind"),
    ([*SCALE[:5], "eam:Cu_u3.eam", "--ranks", "1,2", "--out", "{d}/study"], "a weak study needs --atoms-per-rank"),
    ([*SCALE, "--ranks-per-node", "0"], "--ranks-per-node 0 is out of range"),
    # --submit, status, cancel
    (ramp("--submit", "condor"), "--submit 'condor': choose one of slurm, pbs, lsf, flux"),
    (ramp("--nodes", "2"), "--nodes is an option of a batch job: add --submit"),
    (ramp("--job-time", "2h"), "--job-time is an option of a batch job: add --submit"),
    (ramp("--ranks", "4"), "--ranks is an option of a batch job: add --submit"),
    (ramp("--submit", "flux"), "--submit flux: PSI/J cannot load its flux executor"),
    (ramp("--submit", "pbs"), "pbs refused the job: [Errno 2] No such file or directory: 'qsub'"),  # folder removed
    (ramp("--submit", "slurm", "--ranks", "3", "--ranks-per-run", "2"), "must divide the job's --ranks 3"),
    (ramp("--submit", "slurm", "--ranks", "3", "--nodes", "2"), "3 ranks do not split evenly over 2 nodes"),
    (ramp("--submit", "slurm", "--time-limit", "100"), "--time-limit is set by --submit from --job-time"),
    (ramp("--submit", "slurm", "--job-time", "20"), "--job-time 20 s is out of range"),
    (ramp("--submit", "slurm", "--launcher", "aprun"), "--launcher 'aprun': choose one of mpirun, srun"),
    (["status", "{d}/notmdrive"], "holds no manifest.json: not an mdrive output folder"),
    (["cancel", "{d}/notmdrive"], "holds no manifest.json: not an mdrive output folder"),
    # compare
    (["compare", "{d}/c.html", "{d}/notmdrive"], "is not an mdrive output folder (no manifest.json)"),
    (["compare", "{d}/c.html", "{d}/malformed"], "is not a readable mdrive manifest"),
    (["compare", "{d}/c.html", "{d}/results", "--label", "x"], "--label x: write SPEC=NAME"),
    (["compare", "{d}/c.html"], "the following arguments are required: DIR"),
    # structures
    (["structures", "random-mixture", "--elements", "Cu", "Qq", "--out", "{d}/rm.extxyz"], "unknown element symbol Qq"),
    (["structures", "random-mixture", "--elements", "Cu,Qq", "--out", "{d}/rm.extxyz"], "unknown element symbol Qq"),
    (["structures", "random-mixture", "--elements", "Cu", "--out", "{d}/cu.extxyz"], "exists; choose another --out"),
]

# --- issue 26: everything mdrive reads is untrusted input ------------------------------------------------
STUDY = "{d}/ramp-study"  # a real finished ramp (studies()), copied and damaged per case
RESUME = ["ramp", "{d}/cu.extxyz", *CU, "--ensemble", "nvt", "--duration", "0.02", "--resume", "--out"]


def cfg(name):
    return ["ramp", "--config", f"{{d}}/cfg-{name}.yaml", *CU, "--out", "{d}/out"]


def damaged(name):
    return f"{{d}}/s-{name}"


MORE = [
    # config files
    (ramp("--config", "{d}/deep.yaml"), "nested more than 40 deep"),
    (ramp("--config", "{d}/laughs.yaml"), "YAML aliases (*name) are not accepted"),
    (ramp("--config", "{d}/latin1.yaml"), "is not UTF-8 text"),
    (ramp("--config", "{d}/bigint.yaml"), "Exceeds the limit (4300 digits)"),
    (ramp("--config", "{d}/huge.yaml"), "is over 1 MB"),
    (ramp("--config", "{d}"), "is a folder"),
    (cfg("seed-neg"), "--seed -1 is out of range"),
    (cfg("seed-str"), "--seed"),
    (cfg("seed-inf"), "--seed"),
    (cfg("duration-nan"), "--duration nan: give a finite number"),
    (cfg("duration-dict"), "--duration"),
    (cfg("ensemble-int"), "--ensemble"),
    (cfg("structures-int"), "structure file '5' does not exist"),
    (["ramp", "--config", "{d}/cfg-structures-missing.yaml", "--out", "{d}/out"], "does not exist"),
    (["ramp", "{d}/cu.extxyz", "--config", "{d}/cfg-potential-list.yaml", "--out", "{d}/out"], "potential"),
    (cfg("command"), "unknown option 'command'"),
    (["ramp", "{d}/cu.extxyz", "--config", "{d}/cfg-evil-potential.yaml", "--out", "{d}/out"],
     "os:system is not an ASE calculator class"),
    (cfg("tags"), "not valid YAML"),
    (cfg("time"), "--time-limit '0:61:99' is not a walltime"),
    (ramp("--time-limit", "0:61:99"), "--time-limit '0:61:99' is not a walltime"),
    (ramp("--time-limit", "1:2:3:4"), "--time-limit"),
    # potential files: data, not code
    (ramp("--potential", "{d}/pot-shell.yaml"), "'shell' in 'commands' is not a command a potential needs"),
    (ramp("--potential", "{d}/pot-python.yaml"), "'python' in 'commands' is not a command a potential needs"),
    (ramp("--potential", "{d}/pot-print.yaml"), "'print' in 'commands'"),
    (ramp("--potential", "{d}/pot-log.yaml"), "'log' in 'commands'"),
    (ramp("--potential", "{d}/pot-include.yaml"), "'include' in 'commands' reads a file it does not list"),
    (ramp("--potential", "{d}/pot-read.yaml"), "'read_dump' in 'commands'"),
    (ramp("--potential", "{d}/pot-variable.yaml"), "'variable' in 'commands'"),
    (ramp("--potential", "{d}/pot-fix.yaml"), "'fix' in 'commands'"),
    (ramp("--potential", "{d}/pot-dollar.yaml"), "holds '$', a LAMMPS substitution"),
    (ramp("--potential", "{d}/pot-newline-style.yaml"), "'pair_style' runs over more than one line"),
    (ramp("--potential", "{d}/pot-newline-coeff.yaml"), "'pair_coeff' runs over more than one line"),
    (ramp("--potential", "{d}/pot-newline-pairs.yaml"), "'pairs Cu-Cu' runs over more than one line"),
    (ramp("--potential", "{d}/pot-amp.yaml"), "runs over more than one line"),
    (ramp("--potential", "{d}/pot-pystyle.yaml"), "pair_style python runs code a file names"),
    (ramp("--potential", "{d}/pot-unknown-key.yaml"), "unknown key 'pair_styles'"),
    (ramp("--potential", "{d}/pot-elements.yaml"), "'elements' must be a list of element symbols"),
    (ramp("--potential", "{d}/pot-files.yaml"), "'files' must be a list of the files it reads"),
    (ramp("--potential", "{d}/pot-missing-file.yaml"), "does not exist"),
    (ramp("--potential", "{d}/pot-pairs-list.yaml"), "'pairs' must be a mapping A-B"),
    (ramp("--potential", "{d}/pot-pairs-key.yaml"), "'pairs' must be a mapping A-B"),
    (ramp("--potential", "{d}/pot-newton.yaml"), "'newton' must be on or off"),
    (ramp("--potential", "{d}/pot-units.yaml"), "'units' must be one of"),
    (ramp("--potential", "{d}/pot-coeff-dict.yaml"), "'pair_coeff' must be"),
    (ramp("--potential", "{d}/pot-list.yaml"), "a potential YAML is a mapping"),
    (ramp("--potential", "{d}/pot-latin1.yaml"), "is not UTF-8 text"),
    (ramp("--potential", "{d}/pot-deep.yaml"), "nested more than 40 deep"),
    (ramp("--potential", "{d}/pot-alias.yaml"), "YAML aliases (*name) are not accepted"),
    (ramp("--potential", "ase:os:system?command=true"), "os:system is not an ASE calculator class"),
    (ramp("--potential", "ase:builtins:eval"), "is not an ASE calculator class"),
    (ramp("--potential", "ase:no_such_module_xyz:Calc"), "cannot be loaded"),
    (ramp("--potential", "ase:ase.calculators.emt:Nope"), "cannot be loaded"),
    (ramp("--potential", "ase:ase.calculators.eam:EAM?potential={d}/nothere.eam"), "failed to start"),
    (ramp("--potential", "ase:..:x"), "cannot be loaded"),
    # status and cancel read jobs.json
    (["status", damaged("jobs-notjson")], "is not the jobs.json mdrive writes"),
    (["status", damaged("jobs-list")], "it holds a JSON list, not an object"),
    (["status", damaged("jobs-empty")], "its 'command' is missing or not what mdrive writes"),
    (["status", damaged("jobs-types")], "is missing or not what mdrive writes"),
    (["status", damaged("jobs-deep")], "is not the jobs.json mdrive writes"),
    (["status", damaged("jobs-scheduler")], "scheduler 'condor' is not one mdrive submits to"),
    (["status", damaged("jobs-folder")], "its 'jobs' is missing or not what mdrive writes"),
    (["status", damaged("jobs-bigint")], "is not the jobs.json mdrive writes"),
    (["status", damaged("jobs-slurm-down")], "slurm"),
    (["cancel", damaged("jobs-notjson")], "is not the jobs.json mdrive writes"),
    (["cancel", damaged("jobs-list")], "it holds a JSON list, not an object"),
    (["cancel", damaged("jobs-types")], "is missing or not what mdrive writes"),
    (["cancel", damaged("jobs-scheduler")], "scheduler 'condor' is not one mdrive submits to"),
    (["status", "{d}/cu.extxyz"], "holds no manifest.json"),
    (["status", STUDY], "holds no jobs.json: it was not submitted with --submit"),
    (["cancel", STUDY], "holds no jobs.json: it was not submitted with --submit"),
    (["status", "{d}/scaling-bad"], "is not the study.yaml mdrive writes"),
    (["status", "{d}/scaling-alias"], "YAML aliases"),
    # report and --resume read a study's own files
    (["report", damaged("outcome-list")], "it holds a JSON list, not an object"),
    (["report", damaged("outcome-types")], "'error' is not what mdrive writes"),
    (["report", damaged("run-list")], "run.json"),
    (["report", damaged("run-notjson")], "run.json"),
    (["report", damaged("manifest-bignum")], "is not a readable mdrive manifest"),
    (["report", damaged("manifest-deep")], "is not a readable mdrive manifest"),
    (["report", damaged("manifest-config")], "its manifest holds no config"),
    (["report", damaged("manifest-summarized")], "lists its runs ('summarized') not as mdrive writes them"),
    (["report", damaged("manifest-traversal")], "lists its runs ('summarized') not as mdrive writes them"),
    (["report", damaged("log-folder")], "log.lammps is not a file"),
    (["report", damaged("log-empty")], "log.lammps is empty"),
    (["report", damaged("log-garbage")], "unreadable (no thermo output mdrive can judge)"),
    ([*RESUME, damaged("metrics-list")], "it holds a JSON list, not an object"),
    ([*RESUME, damaged("metrics-types")], "'status' is not what mdrive writes"),
    ([*RESUME, damaged("metrics-status")], "status 'splendid' is not one mdrive gives"),
    ([*RESUME, damaged("outcome-list")], "it holds a JSON list, not an object"),
    ([*RESUME, damaged("run-list")], "run.json"),
    ([*RESUME, damaged("manifest-bignum")], "is not a readable mdrive manifest"),
    # compare reads other people's folders
    (["compare", "{d}/c.md", damaged("manifest-headline"), "--format", "md"], "its headline is not what mdrive writes"),
    (["compare", "{d}/c.md", damaged("manifest-potential"), "--format", "md"], "its potential is not what mdrive"),
    (["compare", "{d}/c.md", damaged("manifest-parameters"), "--format", "md"], "its parameters is not what mdrive"),
    (["compare", "{d}/c.md", damaged("manifest-files"), "--format", "md"], "its potential files is not what mdrive"),
    (["compare", "{d}/afile/c.html", STUDY], "is a file, not a folder"),
    (["compare", "{d}/cu.extxyz", STUDY], "exists and mdrive compare did not write it"),
    (["compare", STUDY + "/manifest.json", STUDY], "which compare reads"),
    (["compare", "{d}/c.html", STUDY, STUDY], "is given twice"),
    (["compare", "{d}/c.html", STUDY, damaged("copy")], "both hold ramp results of eam:Cu_u3.eam"),
    # plugins
    (["plugins", "build", "nope"], "unknown plugin nope: choose from mace, e3gnn"),
    (["plugins", "fix"], "invalid choice: 'fix'"),
    # structures
    (["structures", "random-mixture", "--elements", "Cu", "--count", "1000000000", "--out", "{d}/rm.extxyz"],
     "--count 1000000000 is out of range"),
    (["structures", "random-mixture", "--elements", "Cu", "--atoms", "1000000000", "--out", "{d}/rm.extxyz"],
     "--atoms 1000000000 is out of range"),
    (["structures", "random-mixture", "--elements", "Cu", "--atoms", "1", "--out", "{d}/rm.extxyz"],
     "--atoms 1 is out of range"),
    (["structures", "random-mixture", "--elements", "Cu", "--seed", "-1", "--out", "{d}/rm.extxyz"],
     "--seed -1 is out of range"),
    (["structures", "random-mixture", "--elements", "", "--out", "{d}/rm.extxyz"], "names no element"),
    (["structures", "random-mixture", "--elements", ",", "--out", "{d}/rm.extxyz"], "names no element"),
    (["structures", "random-mixture", "--elements", "Cu", "--out", "{d}/nowhere/rm.extxyz"], "the folder does not exist"),
    (["structures", "random-mixture", "--elements", "Cu", "--out", "{d}/afile/rm.extxyz"], "the folder does not exist"),
    (["structures", "random-mixture", "--elements", "Cu", "--out", "{d}/results"], "exists; choose another --out"),
    (["structures", "random-mixture", "--elements", "Cu", "--out", "{d}/" + "x" * 300 + ".extxyz"],
     "cannot write a file of that name there"),
    (["ramp", "{d}/longname", *CU, "--out", "{d}/out"], "name; runs are named after it: rename it"),
    (ramp()[:-1] + ["{d}/" + "o" * 300], "over the 255 a file system allows"),
    # protocols
    ([*MQ[:1], "--preset", "a-si", "--potential", "sw:Si.sw", "--atoms", "100000", "--out", "{d}/out"],
     "--atoms 100000 is out of range"),
    (["widom", "{d}/cu.extxyz", *CU, "--species", "Ni", "--temperature", "300", "--out", "{d}/out"],
     "--species Ni: potential eam:Cu_u3.eam covers Cu, not Ni"),
]
CASES += MORE


def make_inputs(d: Path) -> None:
    from mdrive.runtime import potentials_dir

    write_structures(d / "cu.extxyz", [copper()])
    fe = copper()
    fe.symbols[0] = "Fe"
    write_structures(d / "fe.extxyz", [fe])
    close = copper()
    close.positions[1] = close.positions[0] + [0.3, 0, 0]
    write_structures(d / "close.extxyz", [close])
    nan = copper()
    nan.positions[3, 1] = np.nan
    write_structures(d / "nan.extxyz", [nan])
    write_structures(d / "one.extxyz", [Atoms("Cu", cell=[2.6] * 3, pbc=True)])
    write_structures(d / "nocell.xyz", [Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]])])
    (d / "dup").mkdir()
    write_structures(d / "dup" / "cu.extxyz", [copper()])
    write_structures(d / "dup" / "cu.xyz", [copper()])
    (d / "empty.extxyz").write_text("")
    (d / "garbage.extxyz").write_text("this is not a structure\n")
    (d / "fake.model-lammps.pt").write_bytes(b"x")
    (d / "nocoords.xyz").write_text("2\nN2 without its coordinate lines\n")
    (d / "results").mkdir()
    (d / "results" / "summary.csv").write_text("x\n")
    (d / "notmdrive").mkdir()
    (d / "malformed").mkdir()
    (d / "malformed" / "manifest.json").write_text("{not json")
    (d / "afile").write_text("a file, not a folder\n")
    for name in ("CuNi.eam.alloy", "Cu_u3.eam"):
        lines = (potentials_dir() / name).read_text().splitlines()
        (d / f"trunc.{name.split('.', 1)[1]}").write_text("\n".join(lines[:len(lines) // 2]) + "\n")
    for folder in ("with space", "é"):
        (d / folder).mkdir()
        shutil.copy(potentials_dir() / "Cu_u3.eam", d / folder / "Cu_u3.eam")
    (d / "badcoeff.yaml").write_text("pair_style: lj/cut 8.0\npair_coeff: '* * 0.01'\nelements: [Cu]\n")
    (d / "nopair.yaml").write_text("pair_style: lj/cut 8.0\n")
    (d / "broken.yaml").write_text("a: [1, 2\n")
    (d / "unknown.yaml").write_text("timestepp: 2fs\n")
    (d / "badval.yaml").write_text("timestep: 2\n")
    (d / "alist.yaml").write_text("- a\n- b\n")
    make_untrusted(d)


POT = "pair_style: lj/cut 6.0\npairs:\n  Cu-Cu: 0.4093 2.338\nelements: [Cu]\n"


def make_untrusted(d: Path) -> None:
    """Config and potential files a colleague (or an attacker) might hand over."""
    (d / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"] + [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
                                                           for p, c in zip("abcdefgh", "bcdefghi")]
    (d / "laughs.yaml").write_text("\n".join(laughs) + "\nseed: *i\n")
    (d / "latin1.yaml").write_bytes("seed: 1 # caf\xe9\n".encode("latin-1"))
    (d / "bigint.yaml").write_text("seed: " + "9" * 5000 + "\n")
    (d / "huge.yaml").write_text("# padding\n" * 200_000)
    configs = {"seed-neg": "seed: -1", "seed-str": "seed: many", "seed-inf": "seed: .inf", "duration-nan": "duration: .nan",
               "duration-dict": "duration: {a: 1}", "ensemble-int": "ensemble: 7", "structures-int": "structures: 5",
               "structures-missing": f"structures: [{d}/nothere.extxyz]\npotential: eam:Cu_u3.eam",
               "potential-list": "potential: [eam, x]", "command": "command: evscan",
               "evil-potential": "potential: ase:os:system?command=touch%20pwned", "tags": "seed: !!python/object:os.system x",
               "time": "time_limit: '0:61:99'"}
    for name, text in configs.items():
        (d / f"cfg-{name}.yaml").write_text(text + "\n")
    pots = {"shell": POT + "commands:\n  - shell touch pwned\n", "python": POT + "commands: ['python x here \"\"\"pass\"\"\"']\n",
            "print": POT + "commands: ['print hi file pwned']\n", "log": POT + "commands: ['log pwned']\n",
            "include": POT + "commands: ['include /etc/passwd']\n", "read": POT + "commands: ['read_dump x 0 x y z']\n",
            "variable": POT + "commands: ['variable x getenv HOME']\n", "fix": POT + "commands: ['fix p all print 1 hi file pwned']\n",
            "dollar": "pair_style: lj/cut 6.0\npair_coeff: ['* * 0.4 2.3 ${x}']\nelements: [Cu]\n",
            "newline-style": "pair_style: \"lj/cut 6.0\\nshell touch pwned\"\npair_coeff: '* * 0.4 2.3'\n",
            "newline-coeff": "pair_style: lj/cut 6.0\npair_coeff: \"* * 0.4 2.3\\nshell touch pwned\"\n",
            "newline-pairs": "pair_style: lj/cut 6.0\npairs:\n  Cu-Cu: \"0.4 2.3\\nshell touch pwned\"\n",
            "amp": "pair_style: lj/cut 6.0 &\npair_coeff: '* * 0.4 2.3'\n",
            "pystyle": "pair_style: python 6.0\npair_coeff: '* * py.Pot Cu'\n",
            "unknown-key": POT + "pair_styles: x\n", "elements": "pair_style: lj/cut 6.0\npair_coeff: '* * 0.4 2.3'\nelements: 5\n",
            "files": POT + "files: x.table\n", "missing-file": POT + "files: [nothere.table]\n",
            "pairs-list": "pair_style: lj/cut 6.0\npairs: [1, 2]\n", "pairs-key": "pair_style: lj/cut 6.0\npairs:\n  CuCu: 0.4 2.3\n",
            "newton": POT + "newton: maybe\n", "units": POT + "units: furlongs\n",
            "coeff-dict": "pair_style: lj/cut 6.0\npair_coeff: [{a: 1}]\n", "list": "- pair_style\n",
            "deep": "pair_style: lj/cut 6.0\npair_coeff: " + "[" * 100 + "]" * 100 + "\n",
            "alias": "pair_style: &s lj/cut 6.0\npair_coeff: '* * 0.4 2.3'\nstyles: [*s]\n"}
    for name, text in pots.items():
        (d / f"pot-{name}.yaml").write_text(text)
    (d / "pot-latin1.yaml").write_bytes("pair_style: lj/cut 6.0 # \xe9\n".encode("latin-1"))
    (d / "longname").mkdir()
    write_structures(d / "longname" / ("c" * 240 + ".extxyz"), [copper()])
    for name, study in (("scaling-bad", "kind: weak\npoints: 5\n"), ("scaling-alias", "a: &x [1]\nb: *x\n")):
        (d / name).mkdir()
        (d / name / "manifest.json").write_text('{"command": "scaling plan"}')  # as earlier versions named it
        (d / name / "study.yaml").write_text(study)


def make_studies(d: Path) -> None:
    """A real finished ramp (d/ramp-study), and copies of it with one file damaged each (d/s-NAME)."""
    r = subprocess.run([sys.executable, "-m", "mdrive", "ramp", str(d / "cu.extxyz"), *CU, "--ensemble", "nvt",
                        "--duration", "0.02", "--out", str(d / "ramp-study")], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    run = Path("runs") / "cu-nvt"
    record = {"command": "ramp", "scheduler": "slurm", "request": {}, "runs": ["cu-nvt"], "max_jobs": 3,
              "time_limit_s": 40, "jobs": [{"id": "4242", "folder": "jobs/job-001"}]}
    manifest = json.loads((d / "ramp-study" / "manifest.json").read_text())
    damage = {
        "jobs-notjson": ("jobs.json", "{not json"), "jobs-list": ("jobs.json", "[]"), "jobs-empty": ("jobs.json", "{}"),
        "jobs-types": ("jobs.json", json.dumps({**record, "jobs": 5})), "jobs-deep": ("jobs.json", "[" * 5000 + "]" * 5000),
        "jobs-scheduler": ("jobs.json", json.dumps({**record, "scheduler": "condor"})),
        "jobs-folder": ("jobs.json", json.dumps({**record, "jobs": [{"id": "1", "folder": "../../etc"}]})),
        "jobs-bigint": ("jobs.json", '{"max_jobs": ' + "9" * 5000 + "}"),
        "jobs-slurm-down": ("jobs.json", json.dumps(record)),
        "outcome-list": (run / "outcome.json", "[]"), "outcome-types": (run / "outcome.json", '{"error": 5}'),
        "run-list": (run / "run.json", "[]"), "run-notjson": (run / "run.json", "{"),
        "metrics-list": (run / "metrics.json", "[]"), "metrics-types": (run / "metrics.json", '{"status": 5}'),
        "metrics-status": (run / "metrics.json", '{"status": "splendid", "cause": null}'),
        "manifest-bignum": ("manifest.json", '{"command": "ramp", "n": 1' + "0" * 5000 + "}"),
        "manifest-deep": ("manifest.json", '{"command": "ramp", "x": ' + "[" * 5000 + "]" * 5000 + "}"),
        "manifest-config": ("manifest.json", json.dumps({**manifest, "config": [1]})),
        "manifest-summarized": ("manifest.json", json.dumps({**manifest, "summarized": 5})),
        "manifest-traversal": ("manifest.json", json.dumps({**manifest, "summarized": ["../../etc"]})),
        "manifest-headline": ("manifest.json", json.dumps({**manifest, "headline": 5})),
        "manifest-potential": ("manifest.json", json.dumps({**manifest, "potential": "eam"})),
        "manifest-parameters": ("manifest.json", json.dumps({**manifest, "parameters": [1]})),
        "manifest-files": ("manifest.json", json.dumps({**manifest, "potential": {**manifest["potential"], "files": 3}})),
        "log-empty": (run / "log.lammps", ""), "log-garbage": (run / "log.lammps", "\x00 not a log\n" * 40),
        "log-folder": (run / "log.lammps", None), "copy": (Path("notes.txt"), None),
    }
    for name, (path, text) in damage.items():
        copy = d / f"s-{name}"
        shutil.copytree(d / "ramp-study", copy)
        if text is None and name == "log-folder":
            (copy / path).unlink()
            (copy / path).mkdir()
        elif text is not None:
            (copy / path).write_text(text)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    make_inputs(d)
    make_studies(d)
    cases = d.parent / f"{d.name}-cases.json"
    cases.write_text(json.dumps([[a.format(d=d) for a in argv] for argv, _ in CASES]))
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "bad_input_runner.py"), str(cases), str(d)],
                       capture_output=True, text=True, env=ENV, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return d, json.loads(cases.with_suffix(".out.json").read_text())


def test_there_are_over_100_cases_over_every_command():
    assert len(CASES) >= 100
    commands = {argv[0] for argv, _ in CASES}
    assert commands >= {"ramp", "evscan", "meltquench", "gcmc", "widom", "report", "scaling", "structures",
                        "status", "cancel", "compare"}


@pytest.mark.parametrize("k", range(len(CASES)), ids=[f"{k:03d}-{c[0][0]}-{c[1][:40]}" for k, c in enumerate(CASES)])
def test_bad_input_one_line_exit_2_nothing_written(outcomes, k):
    d, results = outcomes
    result, needle = results[k], CASES[k][1].format(d=d)
    lines = result["stderr"].strip().splitlines()
    assert result["code"] == 2, result
    assert len(lines) == 1 and lines[0].startswith("mdrive: "), result["stderr"]
    assert needle in lines[0], lines[0]
    assert result["stdout"] == ""
    assert result["new_files"] == []


def test_bad_input_in_its_own_process(tmp_path):
    make_inputs(tmp_path)
    r = mdrive("ramp", tmp_path / "cu.extxyz", *CU, "--timestep", "2", "--out", tmp_path / "out")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == "mdrive: --timestep 2 ps is out of range: it must be above 0 ps and at most 0.02 ps"
    assert not (tmp_path / "out").exists()


def test_bad_input_under_mpi_is_reported_once(tmp_path):
    make_inputs(tmp_path)
    r = mdrive("ramp", tmp_path / "fe.extxyz", *CUNI, "--out", tmp_path / "out", np=2)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "covers Ni Cu" in r.stderr
