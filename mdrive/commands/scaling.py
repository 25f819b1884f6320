"""`mdrive scaling plan|run|collect`: weak and strong scaling studies.

plan    writes a study folder: study.yaml and one composed job per rank count (cantor system or a file);
run     launches every job not launched yet: plain `mpirun -np N lmp` locally, or a batch job through PSI/J
        (slurm, pbs, lsf, flux); re-running never submits a job twice;
collect reads every log into scaling.csv (ns/day, katom-step/s, efficiency, Pair/Neigh/Comm fractions)
        and scaling.png.
"""
from __future__ import annotations

import sys
from pathlib import Path

from mdrive.commands import floats
from mdrive.errors import InputError


def add(sub) -> None:
    p = sub.add_parser("scaling", help="weak/strong scaling studies: plan, run, collect", description=__doc__)
    verbs = p.add_subparsers(dest="verb", metavar="plan|run|collect", required=True)
    plan = verbs.add_parser("plan", help="write a study folder")
    plan.add_argument("--kind", choices=["weak", "strong"], required=True)
    plan.add_argument("--system", default="cantor", help="cantor (random FCC alloy) or a structure file")
    plan.add_argument("--potential", required=True, metavar="SPEC")
    plan.add_argument("--backend", choices=["auto", "native", "plugin", "ase"], default="auto")
    plan.add_argument("--elements", nargs="+", help="cantor: elements to decorate with (default: the 20 of "
                      "MACE-MP-0, or those the potential covers)")
    plan.add_argument("--lattice", type=float, default=3.6, help="cantor: FCC lattice constant, Å (default 3.6)")
    plan.add_argument("--atoms-per-rank", type=int, help="weak: atoms per rank")
    plan.add_argument("--atoms", type=int, help="strong: atoms in the system")
    plan.add_argument("--ranks", type=lambda t: [int(x) for x in floats(t)], required=True, metavar="1,2,4,...")
    plan.add_argument("--gpus-per-node", type=int, default=0, help="GPUs per node (one rank per GPU; default 0)")
    plan.add_argument("--ranks-per-node", type=int, help="CPU ranks per node (default: all on one node)")
    plan.add_argument("--steps", type=int, default=500, help="timed steps (default 500)")
    plan.add_argument("--warmup", type=int, default=100, help="untimed warm-up steps (default 100)")
    plan.add_argument("--temperature", type=float, default=300.0)
    plan.add_argument("--seed", type=int, default=2024)
    plan.add_argument("--out", type=Path, required=True)
    run = verbs.add_parser("run", help="launch the study's jobs")
    run.add_argument("folder", type=Path)
    run.add_argument("--scheduler", default="local", help="local, slurm, pbs, lsf or flux")
    run.add_argument("--queue")
    run.add_argument("--account")
    run.add_argument("--minutes", type=int, help="wall time per job (default 30)")
    run.add_argument("--launcher", help="PSI/J launcher: mpirun (default), srun, jsrun, ...")
    collect = verbs.add_parser("collect", help="read the logs: scaling.csv, scaling.png")
    collect.add_argument("folder", type=Path)
    p.set_defaults(run=main)


def main(args, argv) -> int:
    from mdrive.protocols import scaling

    try:
        if args.verb == "plan":
            return _plan(args)
        if args.verb == "run":
            if args.scheduler not in scaling.SCHEDULERS:
                raise InputError(f"--scheduler {args.scheduler} is unknown; use one of {', '.join(scaling.SCHEDULERS)}")
            options = {"queue": args.queue, "account": args.account, "minutes": args.minutes, "launcher": args.launcher}
            for line in scaling.run(args.folder, args.scheduler, options):
                print(line, flush=True)
            return 0
        table = scaling.collect(args.folder)
        scaling.write_results(args.folder, table, scaling.Study.load(args.folder).kind)
        done = table[table["status"] == "done"]
        for _, r in done.iterrows():
            print(f"{r['point']}: {r['ranks']} ranks, {r['atoms']} atoms, {r['ns_per_day']:.4g} ns/day, "
                  f"{r['katom_step_per_s']:.4g} katom-step/s, efficiency {r['efficiency']:.3f}")
        if len(done) < len(table):
            print(f"mdrive: {len(table) - len(done)} of {len(table)} points have no complete log yet", file=sys.stderr)
        return 0
    except InputError as err:
        print(f"mdrive: {err}", file=sys.stderr)
        return 2


def _plan(args) -> int:
    from mdrive import potentials, structures
    from mdrive.protocols import scaling
    from mdrive.structure_analysis import density
    from mdrive.structures import CANTOR_ELEMENTS, Structure, cantor

    if args.out.exists() and any(args.out.iterdir()):
        raise InputError(f"--out {args.out} already holds files; plan into a new folder")
    points = scaling.points(args.kind, args.ranks, args.atoms_per_rank, args.atoms, args.gpus_per_node,
                            args.ranks_per_node)
    potential = potentials.load(args.potential, args.backend)
    if args.system == "cantor":
        elements = args.elements or [e for e in CANTOR_ELEMENTS
                                     if potential.elements is None or e in potential.elements]
        if not elements:
            raise InputError(f"potential {potential.spec} covers none of the Cantor elements; give --elements")
        potential.check_elements(elements)
        build = {p.name: Structure(p.name, cantor(p.atoms, tuple(elements), args.lattice, args.seed), "cantor")
                 for p in points}
    else:
        base = structures.read([args.system])[0]
        elements = base.elements
        potential.check_elements(elements)
        build = {p.name: Structure(p.name, _replicated(base.atoms, p.atoms), args.system) for p in points}
    for p in points:
        p.atoms = len(build[p.name].atoms)
    probe = Structure("probe", cantor(500, tuple(elements), args.lattice, args.seed), "probe") \
        if args.system == "cantor" else build[points[0].name]
    study = scaling.Study(args.kind, args.system, potential.spec, points, args.steps, args.warmup, args.temperature,
                          seed=args.seed, elements=list(elements), lattice=args.lattice,
                          neighbor_cutoff=scaling.neighbor_cutoff(potential, probe))
    scaling.check_domains(study, len(probe.atoms) / probe.atoms.get_volume())
    args.out.mkdir(parents=True, exist_ok=True)
    scaling.write_jobs(args.out, study, potential, build)
    scaling.write_manifest(args.out, study, potential, build, sys.argv[1:])
    for p in points:
        print(f"{p.name}: {p.ranks} ranks on {p.nodes} node(s), {p.atoms} atoms "
              f"({density(build[p.name].atoms):.3g} g/cm³)")
    return 0


def _replicated(atoms, target: int):
    """The structure repeated round(target / len) times, as cube-like a grid as that count allows."""
    from mdrive.structures import grid

    return atoms.repeat(grid(max(1, round(target / len(atoms)))))
