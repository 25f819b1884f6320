"""What every protocol command does around its own jobs: validate on every rank (one message, exit 2,
nothing written), guard the output folder, record provenance, run the ensemble, summarise on rank 0."""
from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mpi4py import MPI

from mdrive import gpu
from mdrive.ensemble import MARKS, Ensemble, Job
from mdrive.errors import InputError
from mdrive.manifest import MANIFEST, base_manifest, now, structure_hash, write_json
from mdrive.decks import templates_dir
from mdrive.potentials import Potential
from mdrive.potentials.base import sha256
from mdrive.run import StopControl
from mdrive.runtime import build

WORLD = MPI.COMM_WORLD


@dataclass
class Plan:
    command: str
    out: Path
    jobs: list[Job]
    analyze: Callable[[Path, dict, str | None], dict]
    summarize: Callable[[Path, list[dict]], tuple[str, dict]]  # -> (headline text, headline data)
    parameters: dict
    potential: Potential | None = None
    structures: list = field(default_factory=list)
    stage_potentials: list[Potential] = field(default_factory=list)  # potentials some stages switch to
    provenance: dict = field(default_factory=dict)  # further manifest entries (e.g. the MC guard's verdict)
    ranks_per_run: int = 1
    gpus: int = 0  # GPUs per run: Kokkos mode (mdrive.gpu)
    resume: bool = False
    overwrite: bool = False
    time_limit: float | None = None


def check_ranks(ranks_per_run: int, potentials: list[Potential]) -> None:
    if ranks_per_run < 1 or WORLD.size % ranks_per_run:
        raise InputError(f"--ranks-per-run {ranks_per_run} must divide the {WORLD.size} MPI ranks")
    for potential in potentials:
        potential.check_build(build(), ranks_per_run)


def gpu_for(plan: Plan) -> gpu.GpuPlan:
    """The Kokkos command line of a GPU run (--gpus), checked against the build, the potentials' rules and
    the fixes of the decks the jobs compose; an empty plan on CPUs."""
    b = build()
    gpu.check_build(b, plan.gpus)
    decks_used = sorted({t for j in plan.jobs for t in j.templates})
    fixes = gpu.deck_fixes([templates_dir() / d for d in decks_used] + [templates_dir() / "mdrive-hooks.in"])
    plans = [gpu.plan(p, plan.gpus, plan.ranks_per_run, b.version, fixes)
             for p in [plan.potential, *plan.stage_potentials] if p is not None]
    if not plans:
        return gpu.plan_plain(plan.gpus, plan.ranks_per_run, fixes)
    return gpu.GpuPlan(plans[0].args, [w for p in plans for w in p.warnings])


def check_out(plan: Plan) -> None:
    """A folder holding another invocation's results is never overwritten by accident."""
    out = plan.out
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    holds = any(out.iterdir())
    if plan.resume:
        if not (out / MANIFEST).exists():
            raise InputError(f"--resume: {out} holds no {MANIFEST}; start without --resume")
        before = json.loads((out / MANIFEST).read_text()).get("parameters")
        if before != json.loads(json.dumps(plan.parameters)):
            raise InputError(f"--resume: {out} was started with other parameters; resume with the same "
                             f"options, or use another --out")
        return
    if holds and not plan.overwrite:
        raise InputError(f"--out {out} already holds results: add --resume to continue them, "
                         f"--overwrite to replace them, or choose another --out")


def execute(prepare: Callable[[], Plan], argv: list[str]) -> int:
    """Run a protocol: `prepare` builds the plan (on every rank; it must be deterministic)."""
    try:
        plan = prepare()
        plan.out = plan.out.resolve()  # runs chdir into their folders: relative paths would break
        check_ranks(plan.ranks_per_run, [p for p in [plan.potential, *plan.stage_potentials] if p is not None])
        gpu_plan = gpu_for(plan)
        if WORLD.rank == 0:
            check_out(plan)
        message = None
    except InputError as err:
        message, plan = (2, str(err)), None
    except Exception as err:  # a bug, not bad input: still agree on it, or the other ranks would wait forever
        message, plan = (1, f"internal error while preparing: {type(err).__name__}: {err}"), None
    first = next((m for m in WORLD.allgather(message) if m), None)
    if first:
        if WORLD.rank == 0:
            print(f"mdrive: {first[1]}", file=sys.stderr)
        return first[0]
    if WORLD.rank == 0:
        for warning in gpu_plan.warnings:
            print(f"mdrive: warning: {warning}", file=sys.stderr)
        plan.provenance["gpu"] = {"gpus_per_run": plan.gpus, "lammps_args": gpu_plan.args,
                                  "warnings": gpu_plan.warnings} if plan.gpus else None
        _start(plan, argv)
    WORLD.Barrier()
    stop = StopControl(plan.time_limit)
    stop.install()
    ensemble = Ensemble(plan.out, plan.ranks_per_run, plan.analyze, stop, plan.resume, gpu_plan.args)
    results = ensemble.run(plan.jobs)
    if results is not None:
        text, head = plan.summarize(plan.out, results)
        _finish(plan, head, stop)
        print(text, flush=True)
        missing = len(plan.jobs) - len(results)
        if missing:
            why = "a one-rank LAMMPS error blocked a run's other ranks" if ensemble.lost else stop.reason()
            print(f"mdrive: {missing} runs not run ({why}); continue with --resume", file=sys.stderr)
        if ensemble.lost:  # the blocked ranks can only be ended by MPI_Abort, after the results are safe
            sys.stdout.flush()
            sys.stderr.flush()
            time.sleep(1.0)  # let the launcher forward this rank's output before the abort tears it down
            WORLD.Abort(3)
    elif ensemble.lost:
        while True:  # wait for the reporting rank to end the job
            time.sleep(1)
    return 128 + stop.signal if stop.signal else 0


def _start(plan: Plan, argv: list[str]) -> None:
    if plan.overwrite and plan.out.exists() and not plan.resume:
        shutil.rmtree(plan.out)
    plan.out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(plan.out / MARKS, ignore_errors=True)  # markers of an aborted earlier invocation
    manifest = base_manifest(plan.command, argv, plan.parameters, build())
    manifest["ranks_per_run"] = plan.ranks_per_run
    manifest["templates"] = {p.name: sha256(p) for p in sorted(templates_dir().glob("*.in"))}
    if plan.potential is not None:
        manifest["potential"] = _provenance(plan.potential)
    if plan.stage_potentials:
        manifest["stage_potentials"] = [_provenance(p) for p in plan.stage_potentials]
    manifest["structures"] = {s.name: {"source": s.source, "sha256": structure_hash(s.atoms),
                                       "n_atoms": len(s.atoms)} for s in plan.structures}
    manifest.update(plan.provenance)
    if plan.resume:
        first = json.loads((plan.out / MANIFEST).read_text())
        manifest["started"] = first["started"]
        manifest["resumed"] = first.get("resumed", []) + [now()]
    write_json(plan.out / MANIFEST, manifest)


def _provenance(potential: Potential) -> dict:
    return {"spec": potential.spec, "family": potential.family, "styles": list(potential.styles),
            "files": potential.hashes()}


def _finish(plan: Plan, head: dict, stop: StopControl) -> None:
    manifest = json.loads((plan.out / MANIFEST).read_text())
    manifest["finished"] = now()
    manifest["headline"] = head
    manifest["stopped_early"] = stop.reason() if stop.requested() else None
    write_json(plan.out / MANIFEST, manifest)
