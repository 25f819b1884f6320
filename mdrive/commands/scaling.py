"""`mdrive scaling plan|run|collect`: weak and strong scaling studies.

plan    writes a study folder: study.yaml and one composed job per rank count (cantor system or a file);
run     launches every job not launched yet: plain `mpirun -np N lmp` locally, or a batch job through PSI/J
        (slurm, pbs, lsf, flux); re-running never submits a job twice; --wait waits for the batch jobs;
        `mdrive status DIR` shows each point's state;
collect reads every log into scaling.csv (ns/day, katom-step/s, efficiency, Pair/Neigh/Comm fractions)
        and scaling.png.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from mdrive.errors import InputError
from mdrive.params import add_options, param, resolve
from mdrive.potentials.base import BACKENDS
from mdrive.protocols.md import SEED_MAX


@dataclass(frozen=True)
class PlanParams:
    kind: str | None = param(None, "weak: atoms grow with ranks; strong: a fixed system", str,
                             choices=("weak", "strong"))
    system: str = param("cantor", "cantor (random FCC alloy) or a structure file", str)
    potential: str | None = param(None, "FAMILY:FILE, as for the protocols", str, metavar="SPEC")
    backend: str = param("auto", "how a mace: model runs", str, choices=BACKENDS)
    elements: tuple[str, ...] = param((), "cantor: elements to decorate with (default: the 20 of MACE-MP-0, or "
                                      "those the potential covers)", str, many=True, metavar="El[,El...]")
    lattice: float = param(3.6, "cantor: FCC lattice constant", dim="length", min=1.0, max=20.0)
    atoms_per_rank: int | None = param(None, "weak: atoms per rank", int, min=1, max=10 ** 9)
    atoms: int | None = param(None, "strong: atoms in the system", int, min=1, max=10 ** 10)
    ranks: tuple[int, ...] = param((), "rank counts, increasing, e.g. 1,2,4,8", int, many=True, min=1,
                                   max=10 ** 7, metavar="1,2,4,...")
    gpus_per_node: int = param(0, "GPUs per node (one rank per GPU)", min=0, max=64)
    ranks_per_node: int | None = param(None, "CPU ranks per node (default: all on one node)", int, min=1, max=100000)
    steps: int = param(500, "timed steps", min=1, max=10 ** 9)
    warmup: int = param(100, "untimed warm-up steps", min=0, max=10 ** 9)
    temperature: float = param(300.0, "initial temperature", dim="temperature", above=0, max=1e5)
    seed: int = param(2024, "velocity and decoration seed", min=1, max=SEED_MAX)
    out: str | None = param(None, "the study folder to write", str, metavar="DIR")

    def check(self) -> None:
        for name in ("kind", "potential", "out"):
            if getattr(self, name) is None:
                raise InputError(f"scaling plan needs --{name.replace('_', '-')}")
        if not self.ranks:
            raise InputError("scaling plan needs --ranks, e.g. --ranks 1,2,4,8")


def add(sub) -> None:
    p = sub.add_parser("scaling", help="weak/strong scaling studies: plan, run, collect", description=__doc__)
    verbs = p.add_subparsers(dest="verb", metavar="plan|run|collect", required=True)
    plan = verbs.add_parser("plan", help="write a study folder")
    add_options(plan, PlanParams)
    run = verbs.add_parser("run", help="launch the study's jobs")
    run.add_argument("folder", type=Path)
    run.add_argument("--scheduler", default="local", help="local, slurm, pbs, lsf or flux")
    run.add_argument("--queue")
    run.add_argument("--account")
    run.add_argument("--minutes", type=int, help="wall time per job (default 30)")
    run.add_argument("--launcher", help="how the job starts its ranks: mpirun (default) or srun")
    run.add_argument("--wait", type=int, metavar="SECONDS", help="wait up to SECONDS for the batch jobs to end")
    collect = verbs.add_parser("collect", help="read the logs: scaling.csv, scaling.png")
    collect.add_argument("folder", type=Path)
    p.set_defaults(run=main)


def main(args, argv) -> int:
    from mdrive.protocols import scaling

    try:
        if args.verb == "plan":
            return _plan(given_plan(args))
        if args.verb == "run":
            if args.scheduler not in scaling.SCHEDULERS:
                raise InputError(f"--scheduler {args.scheduler} is unknown; use one of {', '.join(scaling.SCHEDULERS)}")
            options = {"queue": args.queue, "account": args.account, "minutes": args.minutes, "launcher": args.launcher}
            for line in scaling.run(args.folder, args.scheduler, options):
                print(line, flush=True)
            if args.wait and args.scheduler != "local":
                for name, state in scaling.wait(args.folder, args.wait).items():
                    print(f"{name}: {state}", flush=True)
            return 0
        table = scaling.collect(args.folder)
        scaling.write_results(args.folder, table, scaling.ScalingStudy.load(args.folder).kind)
        done = table[table["status"] == "done"]
        for _, r in table[table["status"] == "wrong launch"].iterrows():
            print(f"mdrive: {r['point']}: wrong launch: {r['reason']}", file=sys.stderr)
        for _, r in done.iterrows():
            print(f"{r['point']}: {r['ranks']} ranks, {r['atoms']} atoms, {r['ns_per_day']:.4g} ns/day, "
                  f"{r['katom_step_per_s']:.4g} katom-step/s, efficiency {r['efficiency']:.3f}")
        if len(done) < len(table):
            print(f"mdrive: {len(table) - len(done)} of {len(table)} points have no complete log yet", file=sys.stderr)
        return 0
    except InputError as err:
        print(f"mdrive: {err}", file=sys.stderr)
        return 2


def _plan(given) -> int:
    from mdrive import potentials, structures
    from mdrive.protocols import scaling
    from mdrive.structure_analysis import density
    from mdrive.structures import CANTOR_ELEMENTS, Structure, cantor

    (args,) = resolve([PlanParams], given, {})
    args.check()
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out} already holds files; plan into a new folder")
    points = scaling.points(args.kind, list(args.ranks), args.atoms_per_rank, args.atoms, args.gpus_per_node,
                            args.ranks_per_node)
    potential = potentials.load(args.potential, args.backend)
    if args.system == "cantor":
        elements = list(args.elements) or [e for e in CANTOR_ELEMENTS
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
    study = scaling.ScalingStudy(args.kind, args.system, potential.spec, points, args.steps, args.warmup,
                                 args.temperature, seed=args.seed, elements=list(elements), lattice=args.lattice,
                                 neighbor_cutoff=scaling.neighbor_cutoff(potential, probe))
    scaling.check_domains(study, len(probe.atoms) / probe.atoms.get_volume())
    out.mkdir(parents=True, exist_ok=True)
    scaling.write_jobs(out, study, potential, build)
    scaling.write_manifest(out, study, potential, build, sys.argv[1:])
    for p in points:
        print(f"{p.name}: {p.ranks} ranks on {p.nodes} node(s), {p.atoms} atoms "
              f"({density(build[p.name].atoms):.3g} g/cm³)")
    return 0


def given_plan(args) -> dict:
    return {k: v for k, v in vars(args).items() if k not in ("run", "command", "verb")}


def _replicated(atoms, target: int):
    """The structure repeated round(target / len) times, as cube-like a grid as that count allows."""
    from mdrive.structures import grid

    return atoms.repeat(grid(max(1, round(target / len(atoms)))))
