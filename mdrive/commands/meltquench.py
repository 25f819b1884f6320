"""`mdrive meltquench [STRUCTURE ...] --potential SPEC --schedule STAGES|FILE.yaml`: melt, quench, anneal
and relax on a schedule of stages, then analyse the structure left (density, coordination, RDF,
crystalline fraction, excess energy, Tg). Presets reproduce MACE-MP-0's a-Si, a-C and graphitization
protocols; without STRUCTURE the start is built (random hard spheres or a crystal at --density)."""
from __future__ import annotations

from mdrive import potentials, structures
from mdrive.commands import add_md_options, add_run_options, run_options
from mdrive.errors import InputError
from mdrive.protocols import meltquench, schedule

START_OPTIONS = ("element", "atoms", "density", "start", "r_min")


def add(sub) -> None:
    p = sub.add_parser("meltquench", help="melt-quench / anneal schedules and the structure they leave",
                       description=__doc__)
    p.add_argument("structures", nargs="*", help="start structures (any ASE format); none: built from "
                   "--element/--atoms/--density/--start or the preset")
    add_run_options(p, "mdrive-meltquench")
    p.add_argument("--schedule", metavar="STAGES|FILE.yaml",
                   help="e.g. 'nvt:8000K:3ps, nvt:8000K->300K@1000K/ps, min' (see docs: hold, ramp, rate, "
                        "pressure, dt=, pot=)")
    p.add_argument("--preset", choices=sorted(meltquench.PRESETS),
                   help="a-si: 512 Si, NpT 1400 -> 300 K at 1e12 K/s; a-c: 8000 K melt, 1000 K/ps quench; "
                        "graphitization: MACE-MP-0's multi-stage anneal")
    p.add_argument("--melt-potential", metavar="SPEC",
                   help="potential for the preset's melt stages (the paper used GAP there)")
    p.add_argument("--anneal", type=float, metavar="K", help="graphitization: annealing temperature (2000)")
    add_md_options(p, "1, or the preset's; for stages without dt=", 100, 1000, "trace rows (default 100)",
                   "seed of replica 0; replica k uses seed + k")
    p.add_argument("--replicas", type=int, help="runs per start structure, spread over MPI groups (default 1)")
    p.add_argument("--cutoff", type=float, metavar="Å", help="bond cutoff for coordination (Si 2.85, C 1.85)")
    p.add_argument("--ftol", type=float, help="minimisation force tolerance, eV/Å (default 1e-4)")
    p.add_argument("--reference", metavar="FILE",
                   help="crystal for the excess energy (default: the element's crystal from ASE)")
    p.add_argument("--element", help="build the start: element")
    p.add_argument("--atoms", type=int, help="build the start: number of atoms")
    p.add_argument("--density", type=float, metavar="G/CM3", help="build the start: density")
    p.add_argument("--start", choices=["random", "crystal"], help="build the start: random hard spheres or crystal")
    p.add_argument("--r-min", type=float, metavar="Å", help="random start: closest approach (default 2.0)")
    p.set_defaults(run=run)


def params_from(args) -> tuple[meltquench.QuenchParams, meltquench.StartSpec | None]:
    preset = meltquench.PRESETS.get(args.preset) if args.preset else None
    if args.schedule is None and preset is None:
        raise InputError("give --schedule (e.g. 'nvt:3000K:2ps, nvt:3000K->300K@100K/ps, min') or --preset")
    text = args.schedule or meltquench.preset_schedule(preset, args.melt_potential, args.anneal)
    values = {"stages": tuple(schedule.parse(text))}
    if preset:
        values["timestep"] = preset.timestep
    for name in ("timestep", "tdamp", "pdamp", "thermo_every", "seed", "replicas", "cutoff", "ftol"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    params = meltquench.QuenchParams(**values)
    params.check()
    given = [o for o in START_OPTIONS if getattr(args, o) is not None]
    if args.structures:
        if given:
            raise InputError(f"--{given[0].replace('_', '-')} builds a start structure: give it or STRUCTURE "
                             f"files, not both")
        return params, None
    if preset is None and not {"element", "density"} <= set(given):
        raise InputError("give STRUCTURE files, or build a start with --element and --density "
                         "(and --atoms, --start random|crystal)")
    base = {"element": preset.element, "atoms": preset.atoms, "density": preset.density, "start": preset.start,
            "r_min": preset.r_min} if preset else {"atoms": 216, "start": "random", "r_min": 2.0}
    spec = meltquench.StartSpec(**{**base, **{o: getattr(args, o) for o in given}})
    spec.check()
    return params, spec


def prepare(args):
    from mdrive.driver import Plan

    params, start = params_from(args)
    try:
        import ovito  # noqa: F401  (the structure analysis needs it; fail before any run)
    except ImportError:
        raise InputError("meltquench analyses structures with OVITO: pip install 'mdrive[analysis]' "
                         "(or pip install ovito)") from None
    if not args.potential:
        raise InputError("--potential is required (e.g. --potential sw:Si.sw)")
    potential = potentials.load(args.potential, args.backend)
    stage_potentials = {spec: potentials.load(spec, args.backend)
                        for spec in dict.fromkeys(s.potential for s in params.stages if s.potential)}
    if stage_potentials and any(p.bridge for p in [potential, *stage_potentials.values()]):
        raise InputError("stages that switch potential (pot=) cannot use an ASE-bridge potential; "
                         "use a LAMMPS pair style for every stage")
    runs = meltquench.replicas(structures.read(args.structures), params) if args.structures \
        else meltquench.generated(start, params)
    elements = sorted({e for r in runs for e in r.structure.elements})
    for p in [potential, *stage_potentials.values()]:
        p.check_elements(elements)
    crystal = meltquench.reference_crystal(elements, args.reference)
    parameters = meltquench.params_dict(params, start, {
        "preset": args.preset, "melt_potential": args.melt_potential, "reference": args.reference,
        "reference_source": crystal.source if crystal else None})
    structs = list({r.structure.name: r.structure for r in runs}.values()) + ([crystal] if crystal else [])
    return Plan(command="meltquench", out=args.out,
                jobs=meltquench.jobs(runs, potential, stage_potentials, params, crystal),
                analyze=meltquench.analyze,
                summarize=lambda out, rows: meltquench.write_results(out, rows, parameters),
                parameters=parameters, potential=potential, structures=structs,
                stage_potentials=list(stage_potentials.values()), **run_options(args))


def run(args, argv) -> int:
    from mdrive import driver

    return driver.execute(lambda: prepare(args), argv)
