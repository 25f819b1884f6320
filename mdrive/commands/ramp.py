"""`mdrive ramp [STRUCTURES ...] --potential SPEC`: MD stability under T (NVT) and T+P (NPT) ramps."""
from __future__ import annotations

from dataclasses import fields

from mdrive import potentials
from mdrive.commands import add_md_options, add_run_options, read_structures, run_options
from mdrive.errors import InputError
from mdrive.protocols import ramp

# The built-in demo (`make run`): Cu–Ni random mixtures with the Cu–Ni EAM shipped with LAMMPS.
DEMO_POTENTIAL = "eam/alloy:CuNi.eam.alloy"
DEMO_SET = {"elements": ["Cu", "Ni"], "count": 8, "n_atoms": 256, "seed": 2024}


def add(sub) -> None:
    p = sub.add_parser("ramp", help="MD stability under temperature / pressure ramps (the main job)",
                       description=__doc__)
    p.add_argument("structures", nargs="*",
                   help="structure files or folders (any ASE format); none: the built-in Cu-Ni demo set")
    add_run_options(p, "mdrive-ramp")
    p.add_argument("--ensemble", choices=["nvt", "npt", "both"], default="both")
    p.add_argument("--preset", choices=sorted(ramp.PRESETS), default="arena",
                   help="arena: NPT to 500 GPa (default); mp-aloe: NPT to 100 GPa")
    p.add_argument("--t-start", type=float, help="K (default 300)")
    p.add_argument("--t-stop", type=float, help="K (default 3000)")
    p.add_argument("--p-start", type=float, help="GPa (default 0)")
    p.add_argument("--p-stop", type=float, help="GPa (default 500, mp-aloe 100)")
    p.add_argument("--duration", type=float, help="ps (default 10)")
    add_md_options(p, "2, or 0.5 with H", 25, 75, "thermo rows and validity checks (default 10)", "velocity seed")
    p.add_argument("--couple", help="NPT cell coupling: iso (default), aniso or tri")
    p.add_argument("--skip-bad", action="store_true",
                   help="record structures rejected up front (unreadable, overlapping, elements the potential "
                        "lacks) as failed runs and run the others, instead of stopping")
    p.set_defaults(run=run)


def params_from(args) -> ramp.RampParams:
    values = dict(ramp.PRESETS[args.preset], preset=args.preset)
    for f in fields(ramp.RampParams):
        given = getattr(args, f.name, None)
        if given is not None and f.name not in ("ensembles", "preset"):
            values[f.name] = given
    values["ensembles"] = ramp.ENSEMBLES if args.ensemble == "both" else (args.ensemble,)
    params = ramp.RampParams(**values)
    params.check()
    return params


def prepare(args):
    from mdrive.driver import Plan
    from mdrive.protocols import mixtures

    params = params_from(args)
    if args.structures:
        if not args.potential:
            raise InputError("--potential is required with your own structures (e.g. --potential snap:W_2940_2017_2)")
        potential = potentials.load(args.potential, args.backend)
        structs, rejected = read_structures(args, potential)
    else:
        potential = potentials.load(args.potential or DEMO_POTENTIAL, args.backend)
        structs, rejected = mixtures.generate(DEMO_SET["elements"], DEMO_SET["count"], DEMO_SET["n_atoms"],
                                              DEMO_SET["seed"]), {}
    parameters = ramp.params_dict(params)
    if not args.structures:
        parameters["demo_set"] = DEMO_SET
    jobs = ramp.jobs(structs, potential, params) + ramp.rejected_jobs(rejected, params)
    return Plan(
        command="ramp", out=args.out, jobs=jobs, analyze=ramp.analyze,
        summarize=lambda out, rows: ramp.write_results(out, rows, parameters), parameters=parameters,
        potential=potential, structures=structs, **run_options(args))


def run(args, argv) -> int:
    from mdrive import driver

    return driver.execute(lambda: prepare(args), argv)
