"""`mdrive evscan STRUCTURES --potential SPEC`: energy–volume scans under ±strain (MP-ALOE Table I)."""
from __future__ import annotations

from mdrive import potentials, structures
from mdrive.commands import add_run_options, run_options
from mdrive.protocols import evscan


def add(sub) -> None:
    p = sub.add_parser("evscan", help="energy-volume scans: physical soundness under extreme deformation",
                       description=__doc__)
    p.add_argument("structures", nargs="+", help="structure files or folders (any ASE format)")
    add_run_options(p, "mdrive-evscan")
    p.add_argument("--strain", type=float, default=0.2, help="largest linear strain (default 0.2 = ±20 %%)")
    p.add_argument("--points", type=int, default=21, help="points in the scan (default 21, at least 5)")
    p.set_defaults(run=run)


def prepare(args):
    from mdrive.driver import Plan
    from mdrive.errors import InputError

    params = evscan.ScanParams(args.strain, args.points)
    params.check()
    if not args.potential:
        raise InputError("--potential is required (e.g. --potential eam:Cu_u3.eam)")
    potential = potentials.load(args.potential, args.backend)
    structs = structures.read(args.structures)
    for s in structs:
        potential.check_elements(s.elements)
    parameters = {"strain": params.strain, "points": params.points}
    return Plan(command="evscan", out=args.out, jobs=evscan.jobs(structs, potential, params),
                analyze=evscan.analyze, summarize=lambda out, rows: evscan.write_results(out, rows, parameters),
                parameters=parameters, potential=potential, structures=structs, **run_options(args))


def run(args, argv) -> int:
    from mdrive import driver

    return driver.execute(lambda: prepare(args), argv)
