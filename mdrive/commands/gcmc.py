"""`mdrive gcmc STRUCTURE --potential SPEC --species El|molecule.xyz --mu eV[,eV...]|--pressure bar[,...]
--temperature K`: hybrid MD / grand-canonical MC with fix gcmc, one run per reservoir value (an isotherm),
spread over MPI groups; --swap A:B adds fix atom/swap. `--lj` runs the Lennard-Jones fluid in reduced
units. Before MC with a potential, the guard rail checks that LAMMPS's trial energies match a direct
recomputation (--unsafe overrides, recorded in the manifest)."""
from __future__ import annotations

from mdrive import potentials, structures
from mdrive.commands import floats, run_options
from mdrive.commands.widom import add_mc_options, add_mc_sampling
from mdrive.errors import InputError
from mdrive.protocols import gcmc, mc


def add(sub) -> None:
    p = sub.add_parser("gcmc", help="grand-canonical Monte Carlo + MD (fix gcmc), isotherms", description=__doc__)
    add_mc_options(p, "mdrive-gcmc")
    p.add_argument("--mu", "--mus", type=floats, metavar="MU[,MU...]",
                   help="reservoir chemical potential(s), fix gcmc's (eV; ε with --lj): one run each")
    p.add_argument("--pressure", "--pressures", type=floats, metavar="P[,P...]",
                   help="reservoir ideal-gas pressure(s) (bar; reduced with --lj): one run each")
    p.add_argument("--temperature", type=float, required=True, help="K (reduced with --lj)")
    add_mc_sampling(p, steps=20000, equilibrate=None)
    p.add_argument("--exchanges", type=int, default=10, help="insert/delete attempts per invocation (default 10)")
    p.add_argument("--moves", type=int, default=10, help="MC translations per invocation (default 10)")
    p.add_argument("--displace", type=float, default=0.5, help="largest MC translation, Å or σ (default 0.5)")
    p.add_argument("--swap", metavar="A:B", help="also swap elements A and B (fix atom/swap)")
    p.add_argument("--swaps", type=int, default=10, help="swap attempts per invocation (default 10)")
    p.add_argument("--density", type=float, default=0.1, help="--lj: starting reduced density (default 0.1)")
    p.add_argument("--cutoff", type=float, default=4.0, help="--lj: cutoff in σ (default 4.0)")
    p.add_argument("--cells", type=int, default=6, help="--lj: box of cells³ fcc cells at --density (default 6)")
    p.set_defaults(run=run)


def params_from(args) -> gcmc.GcmcParams:
    if (args.mu is None) == (args.pressure is None):
        raise InputError("give the reservoir as --mu VALUE[,...] or --pressure VALUE[,...] (one of them)")
    reservoir, values = ("mu", args.mu) if args.mu is not None else ("pressure", args.pressure)
    swap = None
    if args.swap:
        parts = args.swap.split(":")
        if len(parts) != 2 or parts[0] == parts[1]:
            raise InputError(f"--swap {args.swap}: write two different elements as A:B, e.g. --swap Cu:Ni")
        swap = (parts[0], parts[1])
    params = gcmc.GcmcParams(args.temperature, reservoir, tuple(values), args.steps, args.every, args.exchanges,
                             args.moves, args.displace, args.timestep, args.tdamp, args.seed, swap, args.swaps)
    params.check()
    return params


def prepare(args):
    from dataclasses import asdict

    from mdrive.driver import Plan

    params = params_from(args)
    parameters = {**asdict(params), "lj": args.lj}
    common = dict(analyze=gcmc.analyze, summarize=gcmc.write_results, **run_options(args))
    if args.lj:
        if args.structures or args.potential or args.species or params.swap:
            raise InputError("--lj builds its own Lennard-Jones fluid: give no structures, --potential, "
                             "--species or --swap")
        fluid = mc.LJFluid(args.density, args.cutoff, args.cells)
        fluid.check()
        parameters.update(density=args.density, cutoff=args.cutoff, cells=args.cells)
        return Plan(command="gcmc", out=args.out, jobs=gcmc.lj_jobs(fluid, params), parameters=parameters, **common)
    if not args.structures or not args.potential or not args.species:
        raise InputError("gcmc needs STRUCTURE files, --potential and --species (or --lj for the LJ fluid)")
    potential = potentials.load(args.potential, args.backend)
    sp = mc.species(args.species)
    lacking = sorted(set(sp.elements) - set(potential.elements or sp.elements))
    if lacking:
        raise InputError(f"--species {args.species}: potential {potential.spec} covers "
                         f"{' '.join(potential.elements)}, not {' '.join(lacking)}")
    structs = structures.read(args.structures)
    for s in structs:
        potential.check_elements(mc.elements_with(s, sp))
        if params.swap and not set(params.swap) <= set(mc.elements_with(s, sp)):
            raise InputError(f"--swap {args.swap}: structure {s.name} has {' '.join(s.elements)}")
    guard = mc.guard(structs[0], potential, sp, deletions=True, unsafe=args.unsafe, seed=args.seed)
    parameters.update(species=args.species, unsafe=args.unsafe)
    return Plan(command="gcmc", out=args.out, jobs=gcmc.structure_jobs(structs, potential, sp, params),
                parameters=parameters, potential=potential, structures=structs, provenance={"mc_guard": guard},
                **common)


def run(args, argv) -> int:
    from mdrive import driver

    return driver.execute(lambda: prepare(args), argv)
