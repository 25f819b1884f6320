"""`mdrive widom STRUCTURE --potential SPEC --species El --temperature K`, or `mdrive widom --lj --density RHO
--temperature T`: excess chemical potential by test insertions (fix widom) during NVT MD; widom.csv holds
mu_ex and mu_ex_err (block averages). --lj is the Lennard-Jones validation case in reduced units, compared
with the Johnson-Zollweg-Gubbins equation of state; comma lists of --temperature/--density give one run
per state point, spread over MPI groups."""
from __future__ import annotations

from dataclasses import asdict

from mdrive import potentials, structures
from mdrive.commands import add_run_options, floats, run_options
from mdrive.errors import InputError
from mdrive.protocols import mc, widom


def add(sub) -> None:
    p = sub.add_parser("widom", help="excess chemical potential by Widom test insertions", description=__doc__)
    add_mc_options(p, "mdrive-widom")
    p.add_argument("--temperature", type=floats, required=True, metavar="T[,T...]", help="K, or reduced with --lj")
    p.add_argument("--density", type=floats, metavar="RHO[,RHO...]", help="--lj: reduced number density")
    p.add_argument("--cutoff", type=float, default=4.0, help="--lj: cutoff in σ (default 4.0; tail added)")
    p.add_argument("--cells", type=int, default=6, help="--lj: fcc cells per side (4·cells³ atoms; default 6)")
    add_mc_sampling(p, steps=50000, equilibrate=5000)
    p.add_argument("--insertions", type=int, default=200, help="test insertions per invocation (default 200)")
    p.add_argument("--blocks", type=int, default=10, help="blocks for the error estimate (default 10)")
    p.set_defaults(run=run)


def add_mc_options(p, out: str) -> None:
    """What gcmc and widom share: structures or --lj, the species, the guard rail's override."""
    p.add_argument("structures", nargs="*", help="structures (any ASE format); none with --lj")
    add_run_options(p, out)
    p.add_argument("--lj", action="store_true", help="the Lennard-Jones fluid in reduced units (validation)")
    p.add_argument("--species", help="element symbol, or a molecule file (xyz, ...) to insert")
    p.add_argument("--unsafe", action="store_true", help="run even when the MC guard rail fails (recorded)")


def add_mc_sampling(p, steps: int, equilibrate: int | None) -> None:
    """MD settings gcmc and widom share."""
    p.add_argument("--steps", type=int, default=steps, help=f"MD steps sampled (default {steps})")
    if equilibrate is not None:
        p.add_argument("--equilibrate", type=int, default=equilibrate,
                       help=f"MD steps before sampling (default {equilibrate})")
    p.add_argument("--every", "--md-steps-between", type=int, default=10,
                   help="MD steps between MC invocations (default 10)")
    p.add_argument("--timestep", type=float, help="ps, or τ with --lj (default 0.001 ps / 0.005 τ)")
    p.add_argument("--tdamp", type=float, help="thermostat damping, ps or τ (default 100 timesteps)")
    p.add_argument("--seed", type=int, default=12345, help="velocity and MC seed, recorded (default 12345)")


def state_points(temperatures: list[float], densities: list[float] | None) -> list[tuple[float, float]]:
    if not densities:
        raise InputError("--lj needs --density (reduced number density, e.g. 0.5)")
    if len(temperatures) == 1:
        temperatures = temperatures * len(densities)
    if len(densities) == 1:
        densities = densities * len(temperatures)
    if len(temperatures) != len(densities):
        raise InputError(f"--temperature has {len(temperatures)} values and --density {len(densities)}; "
                         f"give one of each per state point (or one to share)")
    return list(zip(temperatures, densities))


def prepare(args):
    from mdrive.driver import Plan

    params = widom.WidomParams(args.temperature[0], args.steps, args.equilibrate, args.every, args.insertions,
                               args.timestep, args.tdamp, args.seed, args.blocks)
    params.check()
    parameters = {"params": asdict(params), "lj": args.lj}
    if args.lj:
        if args.structures or args.potential or args.species:
            raise InputError("--lj builds its own Lennard-Jones fluid: give no structures, --potential or --species")
        points = state_points(args.temperature, args.density)
        for t, rho in points:
            widom.WidomParams(**{**parameters["params"], "temperature": t}).check()
            mc.LJFluid(rho, args.cutoff, args.cells).check()
        fluid = mc.LJFluid(points[0][1], args.cutoff, args.cells)
        parameters.update(points=points, cutoff=args.cutoff, cells=args.cells)
        return Plan(command="widom", out=args.out, jobs=widom.lj_jobs(points, fluid, params), analyze=widom.analyze,
                    summarize=widom.write_results, parameters=parameters, **run_options(args))
    if len(args.temperature) != 1 or args.density:
        raise InputError("--density and lists of --temperature are for --lj; give one --temperature in K")
    if not args.potential or not args.species or not args.structures:
        raise InputError("widom needs STRUCTURE files, --potential and --species (or --lj for the LJ fluid)")
    potential = potentials.load(args.potential, args.backend)
    sp = mc.species(args.species)
    structs = structures.read(args.structures)
    for s in structs:
        potential.check_elements(mc.elements_with(s, sp))
    guard = mc.guard(structs[0], potential, sp, deletions=False, unsafe=args.unsafe, seed=args.seed)
    parameters.update(species=args.species, unsafe=args.unsafe)
    return Plan(command="widom", out=args.out, jobs=widom.structure_jobs(structs, potential, sp, params),
                analyze=widom.analyze, summarize=widom.write_results, parameters=parameters, potential=potential,
                structures=structs, **run_options(args), provenance={"mc_guard": guard})


def run(args, argv) -> int:
    from mdrive import driver

    return driver.execute(lambda: prepare(args), argv)
