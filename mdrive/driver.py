"""What every protocol command does around its own jobs: validate on every rank (one message, exit 2,
nothing written), guard the output folder, record provenance, run the ensemble, summarise on rank 0."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mpi4py import MPI

from mdrive import gpu, isolation, out_folder, preflight, study_lock, submit
from mdrive.decks import templates_dir
from mdrive.ensemble import Ensemble
from mdrive.errors import InputError
from mdrive.jobs import FINAL, METRICS, Job
from mdrive.manifest import MANIFEST, base_manifest, now, read_manifest, structure_hash, write_json
from mdrive.potentials import Potential
from mdrive.potentials.base import sha256
from mdrive.protocol import RunOptions
from mdrive.run import StopControl
from mdrive.runtime import build

WORLD = MPI.COMM_WORLD
CONFIG = out_folder.CONFIG


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
    run: RunOptions = field(default_factory=RunOptions)  # MPI groups, budgets, resume/overwrite
    config: dict = field(default_factory=dict)  # the resolved options, replayable (config.yaml)


def plan_for(protocol, given: dict) -> Plan:
    """A protocol's plan from the command line's options (`given`) and its config file."""
    from mdrive.params import as_config
    from mdrive.protocol import resolve

    run, params = resolve(protocol, given)
    study = protocol.plan(params, run)
    reduced = bool(getattr(params, protocol.reduced_by, False)) if protocol.reduced_by else False
    return Plan(
        command=protocol.name, out=Path(run.out or f"mdrive-{protocol.name}"), jobs=study.jobs,
        analyze=protocol.analyze, summarize=lambda out, rows: protocol.summarize(out, rows, params),
        parameters=as_config(params, reduced=reduced), potential=study.potential, structures=study.structures,
        stage_potentials=study.stage_potentials, provenance=study.provenance, run=run,
        config=portable({"command": protocol.name, **as_config(run, params, reduced=reduced),
                         "structures": run.structures}))


def portable(config: dict) -> dict:
    """The resolved options with every path made absolute, so config.yaml replays the same study from any
    working folder (a --submit job, `--config OUT/config.yaml` elsewhere)."""
    from mdrive.potentials import portable_spec

    out = dict(config, structures=[str(Path(s).expanduser().resolve()) for s in config["structures"]])
    for key in [k for k in out if k.endswith("potential") and isinstance(out[k], str)]:
        out[key] = portable_spec(out[key])
    return out


def check_ranks(ranks_per_run: int, potentials: list[Potential], world: int) -> None:
    if ranks_per_run < 1 or world % ranks_per_run:
        raise InputError(f"--ranks-per-run {ranks_per_run} must divide the {world} MPI ranks")
    for potential in potentials:
        potential.check_build(build(), ranks_per_run)


def gpu_for(plan: Plan) -> gpu.GpuPlan:
    """The Kokkos command line of a GPU run (--gpus), checked against the build, the potentials' rules and
    the fixes of the decks the jobs compose; an empty plan on CPUs."""
    b = build()
    gpu.check_build(b, plan.run.gpus)
    decks_used = sorted({t for j in plan.jobs for t in j.templates})
    fixes = gpu.deck_fixes([templates_dir() / d for d in decks_used] + [templates_dir() / "mdrive-hooks.in"])
    plans = [gpu.plan(p, plan.run.gpus, plan.run.ranks_per_run, b.version, fixes)
             for p in [plan.potential, *plan.stage_potentials] if p is not None]
    if not plans:
        return gpu.plan_plain(plan.run.gpus, plan.run.ranks_per_run, fixes)
    return gpu.GpuPlan(plans[0].args, [w for p in plans for w in p.warnings])


def provenance_inputs(plan: Plan) -> dict:
    """The hashes of everything a study reads: compared on --resume and recorded in the manifest."""
    return {
        "potential": _provenance(plan.potential) if plan.potential is not None else None,
        "stage_potentials": [_provenance(p) for p in plan.stage_potentials] or None,
        "structures": {s.name: {"source": s.source, "sha256": structure_hash(s.atoms), "n_atoms": len(s.atoms)}
                       for s in plan.structures},
        "templates": {p.name: sha256(p) for p in sorted(templates_dir().glob("*.in"))},
    }


def memory_budget(plan: Plan) -> int:
    """Bytes one run may use: --memory-per-run, or a safe share of this node's available memory for each
    run that runs on it at once (agreed from rank 0's node)."""
    node = WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    runs_on_node = -(-node.size // plan.run.ranks_per_run)
    node.Free()
    budget = int(plan.run.memory_per_run or isolation.default_memory_per_run(runs_on_node))
    return WORLD.bcast(budget, root=0)


def execute(prepare: Callable[[], Plan], argv: list[str]) -> int:
    """Run a protocol: `prepare` builds the plan (on every rank; it must be deterministic)."""
    started = time.time()  # --time-limit counts from here: a batch job's start-up is inside its wall time
    created = None
    try:
        submit.check_world(WORLD.size)
        plan = prepare()
        plan.out = plan.out.resolve()  # runs chdir into their folders: relative paths would break
        used = [p for p in [plan.potential, *plan.stage_potentials] if p is not None]
        check_ranks(plan.run.ranks_per_run, used, submit.given(plan.run, "ranks") if plan.run.submit else WORLD.size)
        if WORLD.rank == 0:
            element_sets = [list(e) for e in dict.fromkeys(tuple(s.elements) for s in plan.structures)]
            for potential in used:
                preflight.check(potential, element_sets)
        gpu_plan = gpu_for(plan)
        inputs = provenance_inputs(plan)
        if WORLD.rank == 0:
            out_folder.check(plan, inputs)  # refused before anything is written
            created = out_folder.claim(plan, inputs)
        message = None
    except InputError as err:
        message = (2, str(err))
    except Exception as err:  # a bug, not bad input: still agree on it, or the other ranks would wait forever
        message = (1, f"internal error while preparing: {type(err).__name__}: {err}")
    first = next((m for m in WORLD.allgather(message) if m), None)
    if first:
        if WORLD.rank == 0:
            if created:  # refused on another rank after this one claimed the folder
                out_folder.unclaim(created)
            print(f"mdrive: {first[1]}", file=sys.stderr)
        return first[0]
    if WORLD.rank == 0:
        for warning in gpu_plan.warnings:
            print(f"mdrive: warning: {warning}", file=sys.stderr)
        notes = [s.note for s in plan.structures if s.note]
        for note in notes:
            print(f"mdrive: note: {note}", file=sys.stderr)
        plan.provenance["notes"] = notes or None
        plan.provenance["gpu"] = {"gpus_per_run": plan.run.gpus, "lammps_args": gpu_plan.args,
                                  "warnings": gpu_plan.warnings} if plan.run.gpus else None
    if plan.run.submit:
        return _submit(plan, argv, inputs, created) if WORLD.rank == 0 else 0
    memory = memory_budget(plan)
    failed = None
    if WORLD.rank == 0:
        try:
            _start(plan, argv, inputs, memory)
        except Exception as err:  # said once, on every rank's behalf: a rank left waiting would hang the job
            failed = f"cannot start the study in {plan.out}: {type(err).__name__}: {err}"
    failed = WORLD.bcast(failed, root=0)  # also the barrier before the runs
    if failed:
        if WORLD.rank == 0:
            print(f"mdrive: {failed}", file=sys.stderr)
        return 1
    stop = StopControl(deadline=started + plan.run.time_limit if plan.run.time_limit else None)
    stop.install()
    ensemble = Ensemble(plan.out, plan.run.ranks_per_run, plan.analyze, stop, memory, plan.run.resume,
                        plan.run.retry_failed, gpu_plan.args)
    results = ensemble.run(plan.jobs)
    if results is None:  # not rank 0
        return 128 + stop.signal if stop.signal else 0
    return _summarize(plan, results, stop)


INCOMPLETE = 3  # the exit status of a study stopped with runs left to run (--time-limit, a full disk): --resume


def _summarize(plan: Plan, results: list[dict], stop: StopControl) -> int:
    """Rank 0: the tables, plots and headline of the runs that have verdicts, and the exit status."""
    try:
        text, head = plan.summarize(plan.out, results)
        _finish(plan, head, stop)
    except OSError as err:
        print(f"mdrive: cannot write the summary in {plan.out} ({err.strerror or err}); the verdicts of "
              f"{len(results)} runs are kept in runs/*/metrics.json: once there is room, `mdrive report {plan.out}` "
              f"writes it, and --resume runs the rest", file=sys.stderr)
        return 1
    print(text, flush=True)
    left = len(plan.jobs) - sum(r.get("status") in FINAL for r in results)
    if len(plan.jobs) > len(results):
        print(f"mdrive: {len(plan.jobs) - len(results)} runs not run ({stop.reason()}); continue with --resume",
              file=sys.stderr)
    chained = submit.after_job(plan.out, stop.reason() if stop.requested() else None)
    if chained:
        print(f"mdrive: {chained}", file=sys.stderr)
    if stop.signal:
        return 128 + stop.signal
    if stop.outside and stop.outside.startswith("cannot write"):
        return 1
    continued = bool(chained) and "submitted job" in chained  # the chain's next job runs the rest
    return INCOMPLETE if left and not continued else 0


def _submit(plan: Plan, argv: list[str], inputs: dict, created: Path | None) -> int:
    """--submit: write the study folder as a run here would, then submit its first job; a scheduler that
    refuses leaves no folder behind (one this command created)."""
    _start(plan, argv, inputs, None)
    try:
        print(f"mdrive: {submit.first(plan)}", flush=True)
        return 0
    except BaseException as err:
        if created and not (plan.out / submit.JOBS_FILE).exists():  # no job was submitted: nothing to keep
            out_folder.unclaim(created)
        if not isinstance(err, InputError):
            raise
        print(f"mdrive: {err}", file=sys.stderr)
        return 2


def _start(plan: Plan, argv: list[str], inputs: dict, memory: int) -> None:
    if plan.run.overwrite and (plan.out / MANIFEST).is_file() and not plan.run.resume:  # not a folder just claimed
        out_folder.remove_outputs(plan.out)
    plan.out.mkdir(parents=True, exist_ok=True)
    manifest = base_manifest(plan.command, argv, plan.parameters, build())
    manifest["ranks_per_run"] = plan.run.ranks_per_run
    manifest["memory_per_run_bytes"] = memory
    manifest.update({k: v for k, v in inputs.items() if v is not None})
    manifest.update(plan.provenance)
    if plan.run.resume:
        first = read_manifest(plan.out)
        manifest["started"] = first["started"]
        manifest["resumed"] = first.get("resumed", []) + [now()]
        manifest["outputs"] = first.get("outputs", [])
    manifest["config"] = plan.config
    write_json(plan.out / MANIFEST, manifest)
    write_config(plan.out / CONFIG, plan.config)


def write_config(path: Path, config: dict) -> None:
    import yaml

    from mdrive.manifest import write_text

    replay = {k: v for k, v in config.items() if k != "command"}
    write_text(path, f"# mdrive {config['command']}: replay with `python -m mdrive {config['command']} --config "
                     f"{path.name}`\n" + yaml.safe_dump(replay, sort_keys=False, allow_unicode=True))


def _provenance(potential: Potential) -> dict:
    return {"spec": potential.spec, "family": potential.family, "styles": list(potential.styles),
            "files": potential.hashes(), **potential.about}


def _finish(plan: Plan, head: dict, stop: StopControl) -> None:
    manifest = read_manifest(plan.out)
    manifest["outputs"] = sorted(set(manifest.get("outputs", [])) | {p.name for p in plan.out.iterdir()}
                                 - {MANIFEST, "runs", study_lock.LOCK})
    manifest["summarized"] = [j.name for j in plan.jobs if (plan.out / "runs" / j.name / METRICS).is_file()]
    manifest["finished"] = now()
    manifest["headline"] = head
    manifest["stopped_early"] = stop.reason() if stop.requested() else None
    write_json(plan.out / MANIFEST, manifest)
