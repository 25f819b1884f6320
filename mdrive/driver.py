"""What every protocol command does around its own jobs, in stages: prepare and validate on every rank (one
message, exit 2, nothing written), claim the output folder (mdrive.out_folder), record provenance
(mdrive.study_record), run the ensemble, summarise on rank 0."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from mpi4py import MPI

from mdrive import decks, gpu, isolation, launch, out_folder, preflight, study_record, submit
from mdrive.decks import templates_dir
from mdrive.ensemble import Ensemble
from mdrive.errors import InputError
from mdrive.jobs import FINAL, Job
from mdrive.potentials import Potential
from mdrive.protocol import Protocol, RunOptions, Study
from mdrive.run import StopControl
from mdrive.runtime import build

WORLD = MPI.COMM_WORLD
INCOMPLETE = 3  # the exit status of a study stopped with runs left to run (--time-limit, a full disk): --resume


@dataclass
class Plan:
    """A protocol command ready to run: the protocol, what was asked of it, what it will run, and where."""

    protocol: Protocol
    params: object  # the protocol's Params
    options: RunOptions
    study: Study
    out: Path  # absolute: runs chdir into their folders

    @property
    def jobs(self) -> list[Job]:
        return self.study.jobs

    @property
    def potentials(self) -> list[Potential]:
        """The potential and the ones some stages switch to."""
        return [p for p in [self.study.potential, *self.study.stage_potentials] if p is not None]

    @cached_property
    def parameters(self) -> dict:
        """The protocol's parameters as the manifest records them (values with their units)."""
        from mdrive.params import as_config

        return as_config(self.params, reduced=self.protocol.reduced(self.params))

    @cached_property
    def config(self) -> dict:
        """Every resolved option, replayable from any working folder (config.yaml)."""
        from mdrive.params import as_config

        reduced = self.protocol.reduced(self.params)
        return portable({"command": self.protocol.name, **as_config(self.options, self.params, reduced=reduced),
                         "structures": self.options.structures})


@dataclass
class Prepared:
    """What every rank agreed on before anything ran."""

    plan: Plan
    gpu: gpu.GpuPlan
    inputs: dict  # hashes of everything the study reads
    created: Path | None  # the top folder this command created for --out (removed if it stops before a run)


def plan_for(protocol: Protocol, given: dict) -> Plan:
    """A protocol's plan from the command line's options (`given`) and its config file."""
    from mdrive.protocol import resolve

    options, params = resolve(protocol, given)
    study = protocol.plan(params, options)
    return Plan(protocol, params, options, study, Path(options.out or f"mdrive-{protocol.name}").resolve())


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
    gpus, ranks = plan.options.gpus, plan.options.ranks_per_run
    gpu.check_build(b, gpus)
    decks_used = sorted({t for j in plan.jobs for t in j.templates})
    fixes = gpu.deck_fixes([templates_dir() / d for d in decks_used] + [templates_dir() / "mdrive-hooks.in"])
    plans = [gpu.plan(p, gpus, ranks, b.version, fixes) for p in plan.potentials]
    if not plans:
        return gpu.plan_plain(gpus, ranks, fixes)
    return gpu.GpuPlan(plans[0].args, [w for p in plans for w in p.warnings])


def memory_budget(plan: Plan) -> int:
    """Bytes one run may use: --memory-per-run, or a safe share of this node's available memory for each
    run that runs on it at once (agreed from rank 0's node)."""
    node = WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    runs_on_node = -(-node.size // plan.options.ranks_per_run)
    node.Free()
    budget = int(plan.options.memory_per_run or isolation.default_memory_per_run(runs_on_node))
    return WORLD.bcast(budget, root=0)


def run_protocol(prepare: Callable[[], Plan], argv: list[str]) -> int:
    """Run a protocol: `prepare` builds the plan (on every rank; it must be deterministic)."""
    started = time.time()  # --time-limit counts from here: a batch job's start-up is inside its wall time
    ready = _prepare_everywhere(prepare)
    if isinstance(ready, int):
        return ready
    plan = ready.plan
    if WORLD.rank == 0:
        _say_notes(ready)
    if plan.options.submit:
        return _submit(ready, argv) if WORLD.rank == 0 else 0
    memory = memory_budget(plan)
    if not _start_everywhere(ready, argv, memory):
        return 1
    limit = plan.options.time_limit
    stop = StopControl(deadline=started + limit if limit else None)
    stop.install()
    ensemble = Ensemble(plan.out, plan.options, plan.protocol.analyze, stop, memory, ready.gpu.args)
    results = ensemble.run(plan.jobs)
    if results is None:  # not rank 0
        return 128 + stop.signal if stop.signal else 0
    return _summarize(plan, results, stop)


def _prepare(prepare: Callable[[], Plan]) -> Prepared:
    """Everything checked before anything is written; rank 0 then claims the output folder."""
    submit.check_world(WORLD.size)
    plan = prepare()
    options = plan.options
    check_ranks(options.ranks_per_run, plan.potentials,
                submit.given(options, "ranks") if options.submit else WORLD.size)
    decks.check_build(build(), sorted({t for j in plan.jobs for t in j.templates}))
    if not options.submit:
        check_launch(options.ranks_per_run)
    if WORLD.rank == 0:
        element_sets = [list(e) for e in dict.fromkeys(tuple(s.elements) for s in plan.study.structures)]
        for potential in plan.potentials:
            preflight.check(potential, element_sets)
    ready = Prepared(plan, gpu_for(plan), study_record.inputs(plan), None)
    if WORLD.rank == 0:
        out_folder.check(plan, ready.inputs)  # refused before anything is written
        ready.created = out_folder.claim(plan, ready.inputs)
    return ready


def check_launch(ranks_per_run: int) -> None:
    """Each group's first rank starts a probe of the group's ranks the way its runs will start (launch.py):
    a launch that cannot get its ranks is refused now, in seconds, not after each run waited for it."""
    if ranks_per_run == 1:
        return
    hosts = WORLD.allgather(launch.host_name())
    if WORLD.rank % ranks_per_run:
        return
    started = time.monotonic()
    group = hosts[WORLD.rank:WORLD.rank + ranks_per_run]
    why = launch.check(group, isolation.worker_env())
    if why is None and WORLD.rank == 0:
        print(f"[mdrive] {ranks_per_run}-rank runs start on {launch.host_counts(group)} in "
              f"{time.monotonic() - started:.1f} s ({launch.how()})", file=sys.stderr, flush=True)
    if why:
        raise InputError(f"runs of {ranks_per_run} ranks cannot start: {why}; nothing was run (README: "
                         f"Clusters, runs of several ranks)")


def _prepare_everywhere(prepare: Callable[[], Plan]) -> Prepared | int:
    """The prepared study on every rank, or the exit status every rank agreed on (said once, by rank 0)."""
    ready, message = None, None
    try:
        ready = _prepare(prepare)
    except InputError as err:
        message = (2, str(err))
    except Exception as err:  # a bug, not bad input: still agree on it, or the other ranks would wait forever
        message = (1, f"internal error while preparing: {type(err).__name__}: {err}")
    first = next((m for m in WORLD.allgather(message) if m), None)
    if first is None:
        return ready
    if WORLD.rank == 0:
        if ready is not None and ready.created:  # refused on another rank after this one claimed the folder
            out_folder.unclaim(ready.created)
        print(f"mdrive: {first[1]}", file=sys.stderr)
    return first[0]


def _say_notes(ready: Prepared) -> None:
    """Rank 0: the GPU plan's warnings and the structures' notes, said and recorded."""
    plan = ready.plan
    for warning in ready.gpu.warnings:
        print(f"mdrive: warning: {warning}", file=sys.stderr)
    notes = [s.note for s in plan.study.structures if s.note]
    for note in notes:
        print(f"mdrive: note: {note}", file=sys.stderr)
    plan.study.provenance["notes"] = notes or None
    plan.study.provenance["gpu"] = {"gpus_per_run": plan.options.gpus, "lammps_args": ready.gpu.args,
                                    "warnings": ready.gpu.warnings} if plan.options.gpus else None


def _start_everywhere(ready: Prepared, argv: list[str], memory: int) -> bool:
    """Rank 0 writes the study's record; a failure is said once, on every rank's behalf (a rank left waiting
    would hang the job). Also the barrier before the runs."""
    failed = None
    if WORLD.rank == 0:
        try:
            out_folder.clear_for_overwrite(ready.plan)
            study_record.start(ready.plan, argv, ready.inputs, memory)
        except Exception as err:
            failed = f"cannot start the study in {ready.plan.out}: {type(err).__name__}: {err}"
    failed = WORLD.bcast(failed, root=0)
    if failed and WORLD.rank == 0:
        print(f"mdrive: {failed}", file=sys.stderr)
    return not failed


def _summarize(plan: Plan, results: list[dict], stop: StopControl) -> int:
    """Rank 0: the tables, plots and headline of the runs that have verdicts, and the exit status."""
    try:
        text, head = plan.protocol.summarize(plan.out, results, plan.params)
        study_record.finish(plan, head, stop.reason() if stop.requested() else None)
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
    if stop.disk_full:
        return 1
    continued = bool(chained) and "submitted job" in chained  # the chain's next job runs the rest
    return INCOMPLETE if left and not continued else 0


def _submit(ready: Prepared, argv: list[str]) -> int:
    """--submit: write the study folder as a run here would, then submit its first job; a scheduler that
    refuses leaves no folder behind (one this command created)."""
    plan = ready.plan
    out_folder.clear_for_overwrite(plan)
    study_record.start(plan, argv, ready.inputs, None)
    try:
        print(f"mdrive: {submit.first(plan)}", flush=True)
        return 0
    except BaseException as err:
        if ready.created and not (plan.out / submit.JOBS_FILE).exists():  # no job was submitted: nothing to keep
            out_folder.unclaim(ready.created)
        if not isinstance(err, InputError):
            raise
        print(f"mdrive: {err}", file=sys.stderr)
        return 2
