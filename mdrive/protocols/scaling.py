"""`mdrive scaling`: weak and strong scaling studies — plan, run (locally or through a batch scheduler via
PSI/J), collect (docs/protocols §5.3).

A study folder holds study.yaml (what was asked, every point's launch line) and jobs/NAME/ per point: the
composed deck (inputs/scaling.in), its data file and potential include. Jobs run as plain `lmp` under the
MPI launcher, as users run production; mdrive only reads their logs afterwards.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mdrive import decks, jobs
from mdrive.errors import InputError
from mdrive.launch import RANKS_FILE, read_ranks
from mdrive.logs import read_log
from mdrive.manifest import write_json, write_text
from mdrive.potentials import Potential
from mdrive.structures import Structure
from mdrive.study_kinds import StudyKind

KIND_NAME = "scaling"
STUDY, JOBS, SUBMITTED = "study.yaml", "jobs", "submitted.json"
TABLE, PLOT = "scaling.csv", "scaling.png"
SCHEDULERS = ("local", "slurm", "pbs", "lsf", "flux")  # local, then mdrive.scheduler's
SECTIONS = ("Pair", "Neigh", "Comm", "Modify", "Output", "Other")


@dataclass
class Point:
    name: str
    ranks: int
    nodes: int
    gpus_per_node: int
    atoms: int


@dataclass
class ScalingStudy:
    """study.yaml: what was asked and every point's launch line."""

    kind: str  # weak or strong
    system: str  # cantor or a structure file
    potential: str
    points: list[Point]
    steps: int
    warmup: int
    temperature: float = 300.0
    timestep: float = 0.001  # ps
    seed: int = 2024
    elements: list[str] = field(default_factory=list)
    lattice: float = 3.6
    neighbor_cutoff: float | None = None  # Å, pair cutoff + skin, measured in LAMMPS at plan time
    launch: dict = field(default_factory=dict)  # point name -> lmp arguments (Kokkos flags included)

    def save(self, folder: Path) -> None:
        data = asdict(self)
        write_text(folder / STUDY, yaml.safe_dump(data, sort_keys=False))

    @classmethod
    def load(cls, folder: Path) -> ScalingStudy:
        path = folder / STUDY
        if not path.is_file():
            raise InputError(f"{folder} holds no {STUDY}: plan a study first (mdrive scaling plan ... --out DIR)")
        from mdrive.untrusted import read_yaml

        data = read_yaml(path, f"the {STUDY} mdrive writes")
        try:
            data["points"] = [Point(**p) for p in data["points"]]
            return cls(**data)
        except (TypeError, KeyError, AttributeError) as err:
            raise InputError(f"{path} is not the {STUDY} mdrive writes ({type(err).__name__}: {err}); plan the "
                             f"study again") from None


def points(kind: str, ranks: list[int], atoms_per_rank: int | None, atoms: int | None,
           gpus_per_node: int, ranks_per_node: int | None) -> list[Point]:
    if not ranks or any(b <= a for a, b in zip(ranks, ranks[1:])) or ranks[0] < 1:
        raise InputError(f"--ranks {','.join(map(str, ranks))} must be positive and strictly increasing, e.g. 1,2,4,8")
    if kind == "weak" and (not atoms_per_rank or atoms_per_rank < 1):
        raise InputError("a weak study needs --atoms-per-rank N (the load each rank keeps)")
    if kind == "strong" and (not atoms or atoms < 1):
        raise InputError("a strong study needs --atoms N (the fixed system size)")
    per_node = ranks_per_node or (gpus_per_node or None)
    out = []
    for r in ranks:
        nodes = max(1, -(-r // per_node)) if per_node else 1
        n = atoms_per_rank * r if kind == "weak" else atoms
        out.append(Point(f"{kind}-r{r:04d}", r, nodes, gpus_per_node, n))
    return out


def check_domains(study: ScalingStudy, density: float) -> None:
    """Each rank's subdomain must be at least one neighbour cutoff wide, or ghost exchange dominates."""
    if not study.neighbor_cutoff:
        return
    need = density * study.neighbor_cutoff ** 3
    for p in study.points:
        if p.atoms / p.ranks < need:
            raise InputError(
                f"point {p.name}: {p.atoms / p.ranks:.0f} atoms per rank is below the {need:.0f} that fill one "
                f"neighbour cutoff ({study.neighbor_cutoff:.2f} Å) per subdomain; use more atoms or fewer ranks")


def launch_args(potential: Potential, p: Point) -> tuple[list[str], list[str]]:
    """lmp's arguments for one point (the deck, and on GPUs the Kokkos command line mdrive.gpu builds for the
    potential, with its refusals, one rank per GPU) and that plan's warnings."""
    from mdrive import gpu
    from mdrive.runtime import build

    args = ["-in", decks.DECK, "-log", "log.lammps"]
    if not p.gpus_per_node:
        return args, []
    fixes = gpu.deck_fixes([decks.template_path("scaling.in")])
    plan = gpu.plan(potential, p.gpus_per_node, min(p.ranks, p.gpus_per_node), build().version, fixes)
    return args + plan.args, plan.warnings


def write_jobs(folder: Path, study: ScalingStudy, potential: Potential, structures: dict[str, Structure]) -> None:
    variables = {"seed": study.seed, "temperature": study.temperature, "dt": study.timestep,
                 "tdamp": 100 * study.timestep, "pdamp": 1000 * study.timestep, "warmup": study.warmup,
                 "steps": study.steps}
    warnings = []
    for p in study.points:
        run_dir = folder / JOBS / p.name
        decks.compose(run_dir, "scaling.in", variables, potential, structures[p.name])
        study.launch[p.name], said = launch_args(potential, p)
        warnings += said
    for warning in dict.fromkeys(warnings):  # the same for every point: said once
        print(f"mdrive: warning: {warning}", file=sys.stderr)
    study.save(folder)


def neighbor_cutoff(potential: Potential, structure: Structure) -> float:
    """Pair cutoff + skin as LAMMPS sets it for this potential (one `run 0` on one rank, a scratch folder)."""
    import re
    import tempfile

    from mpi4py import MPI

    from mdrive.run import LOG, StopControl, run_deck

    with tempfile.TemporaryDirectory(prefix="mdrive-cutoff-") as tmp:
        run_dir = Path(tmp)
        decks.compose(run_dir, "single.in", {}, potential, structure)
        error = run_deck(run_dir, MPI.COMM_SELF, StopControl())
        if error:
            raise InputError(f"potential {potential.spec} does not run on the study's system: {error}")
        found = re.search(r"master list distance cutoff = ([0-9.eE+-]+)", (run_dir / LOG).read_text())
    return float(found.group(1)) if found else None


def write_manifest(folder: Path, study: ScalingStudy, potential: Potential, structures: dict[str, Structure],
                   argv: list[str]) -> None:
    """Provenance of the study: versions, the LAMMPS build that planned it, potential and system hashes."""
    from mdrive.manifest import MANIFEST, base_manifest, structure_hash
    from mdrive.runtime import build

    manifest = base_manifest(KIND_NAME, argv, asdict(study), build())
    manifest["potential"] = {"spec": potential.spec, "styles": list(potential.styles), "files": potential.hashes()}
    manifest["structures"] = {name: {"n_atoms": len(s.atoms), "sha256": structure_hash(s.atoms)}
                              for name, s in structures.items()}
    write_json(folder / MANIFEST, manifest)


# --- run -------------------------------------------------------------------------------------------


def run(folder: Path, scheduler_name: str, options: dict) -> list[str]:
    """Launch every job not launched before; returns what was done, one line per job."""
    from mdrive import scheduler

    study = ScalingStudy.load(folder)
    if scheduler_name != "local":
        for p in study.points:
            scheduler.check(request(p, scheduler_name, options))
    env = scheduler.environment()
    lines = []
    for p in study.points:
        job_dir = folder / JOBS / p.name
        if _launched(job_dir):
            lines.append(f"{p.name}: already {'done' if _complete(job_dir) else 'submitted'}, skipped")
            continue
        (job_dir / RANKS_FILE).unlink(missing_ok=True)  # a point launched again records afresh
        if scheduler_name == "local":
            lines.append(_run_local(job_dir, p, study.launch[p.name], env))
        else:
            lines.append(_submit(job_dir, p, study.launch[p.name], env, request(p, scheduler_name, options)))
    return lines


def request(p: Point, scheduler_name: str, options: dict):
    """What one point's job asks of the scheduler: p.ranks over p.nodes nodes, one GPU per rank on GPUs."""
    from mdrive.scheduler import Request

    return Request(scheduler_name, p.ranks, p.nodes, 1 if p.gpus_per_node else 0, options.get("minutes") or 30,
                   options.get("queue"), options.get("account"), options.get("launcher") or "mpirun")


def _launched(job_dir: Path) -> bool:
    marker = job_dir / SUBMITTED
    if not marker.exists():
        return False
    record = _submitted(job_dir)
    if _complete(job_dir):
        return True
    return record["scheduler"] != "local" and not record.get("cancelled")  # a failed or cancelled one runs again


def _submitted(job_dir: Path) -> dict:
    """A point's submitted.json, checked (it is read back as untrusted input)."""
    from mdrive import scheduler
    from mdrive.untrusted import read_json

    record = read_json(job_dir / SUBMITTED, f"the {SUBMITTED} mdrive writes")
    if record.get("scheduler") not in ("local", *scheduler.SCHEDULERS) or (
            record["scheduler"] != "local" and not isinstance(record.get("native_id"), str)):
        raise InputError(f"{job_dir / SUBMITTED} is not the {SUBMITTED} mdrive writes; plan the study again")
    return record


def _complete(job_dir: Path) -> bool:
    log = job_dir / "log.lammps"
    return log.exists() and read_log(log).complete


def _run_local(job_dir: Path, p: Point, args: list[str], env: dict) -> str:
    from mdrive.scheduler import bin_path

    started = time.time()
    cmd = [bin_path("mpirun"), "-np", str(p.ranks), *recorded(args)]
    with open(job_dir / "stdout.txt", "w") as out:
        rc = subprocess.run(cmd, cwd=job_dir, env={**os.environ, **env}, stdout=out,
                            stderr=subprocess.STDOUT).returncode
    write_json(job_dir / SUBMITTED, {"scheduler": "local", "command": cmd, "returncode": rc,
                                     "started": started, "wall_s": round(time.time() - started, 3)})
    return f"{p.name}: ran locally on {p.ranks} ranks (exit {rc}, {time.time() - started:.1f} s)"


def recorded(args: list[str]) -> list[str]:
    """Plain `lmp ARGS` on each rank, as users run production, after each rank wrote down its host
    (launch.record_and_exec: ranks.txt, a few ms)."""
    from mdrive.scheduler import bin_path

    return [sys.executable, "-m", "mdrive.launch", "--record", bin_path("lmp"), *args]


def command(job_dir: Path, p: Point, args: list[str], env: dict):
    """What one point's batch job runs: `lmp` on the point's ranks, each rank's host recorded."""
    from mdrive import scheduler

    program = recorded(args)
    return scheduler.Command(program[0], program[1:], job_dir, env, f"mdrive-{p.name}")


def _submit(job_dir: Path, p: Point, args: list[str], env: dict, request) -> str:
    from mdrive import scheduler

    native_id = scheduler.submit_job(request, command(job_dir, p, args, env), job_dir.parent / scheduler.PSIJ_FOLDER)
    write_json(job_dir / SUBMITTED, {"scheduler": request.scheduler, "native_id": native_id,
                                     "launcher": request.launcher, "submitted": time.time()})
    return f"{p.name}: submitted to {request.scheduler} as {native_id}"


def job_states(folder: Path) -> dict[str, str]:
    """Each point's state: not launched, the local run's outcome, or its batch job's state from the scheduler
    (done once its log is complete)."""
    from mdrive import scheduler

    study = ScalingStudy.load(folder)
    out, asked = {}, {}
    for p in study.points:
        job_dir = folder / JOBS / p.name
        record = _submitted(job_dir) if (job_dir / SUBMITTED).exists() else None
        if record is None:
            out[p.name] = "not launched"
        elif record["scheduler"] == "local":
            out[p.name] = "done" if _complete(job_dir) else f"failed (exit {record['returncode']})"
        elif record.get("cancelled") and not _complete(job_dir):
            out[p.name] = f"cancelled ({record['scheduler']} job {record['native_id']}); `scaling run` submits it again"
        else:
            asked.setdefault(record["scheduler"], {})[record["native_id"]] = p.name
    for name, ids in asked.items():
        for native_id, state in scheduler.states(name, list(ids), folder / JOBS / scheduler.PSIJ_FOLDER).items():
            state, _, why = state.partition(" ")
            out[ids[native_id]] = f"{state.lower()} ({name} job {native_id}){' ' + why if why else ''}"
    return {p.name: out[p.name] for p in study.points}


def wait(folder: Path, timeout_s: float, every_s: float = 2.0) -> dict[str, str]:
    """Poll until no point is queued or running (or `timeout_s` passed); the last states."""
    end = time.monotonic() + timeout_s
    while True:
        states = job_states(folder)
        busy = [s for s in states.values() if s.startswith(("queued", "active", "new", "unknown"))]
        if not busy or time.monotonic() > end:
            return states
        time.sleep(every_s)


# --- collect ---------------------------------------------------------------------------------------


def collect(folder: Path) -> pd.DataFrame:
    study = ScalingStudy.load(folder)
    rows = []
    for p in study.points:
        row = {"point": p.name, "ranks": p.ranks, "nodes": p.nodes, "gpus": p.gpus_per_node * p.nodes,
               "atoms": p.atoms, "atoms_per_rank": p.atoms / p.ranks, "steps": study.steps,
               "hosts": read_ranks(folder / JOBS / p.name)}
        log_path = folder / JOBS / p.name / "log.lammps"
        runs = read_log(log_path).runs if log_path.exists() else []
        timed = runs[-1] if runs else None
        wrong = jobs.launch_error(runs, p.ranks)
        if wrong:
            rows.append({**row, "status": "wrong launch", "reason": wrong})
            continue
        if timed is None or not timed.complete or timed.steps != study.steps:
            rows.append({**row, "status": "missing" if timed is None else "incomplete"})
            continue
        perf = timed.performance or {}
        row.update(status="done", loop_time_s=timed.loop_time, seconds_per_step=timed.loop_time / timed.steps,
                   ns_per_day=perf.get("ns/day"), timesteps_per_s=perf.get("timesteps/s"),
                   katom_step_per_s=perf.get("atom-step/s", np.nan) / 1e3)
        if timed.timing is not None:
            for section in SECTIONS:
                if section in timed.timing.index:
                    row[f"{section.lower()}_fraction"] = float(timed.timing.loc[section, "total"]) / 100
        rows.append(row)
    table = pd.DataFrame(rows)
    return add_efficiency(table, study.kind)


def add_efficiency(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Weak: t(r0)/t(r); strong: r0·t(r0)/(r·t(r)), t the wall time per step, r0 the smallest rank count."""
    done = table[table.get("status") == "done"] if "status" in table else table.iloc[0:0]
    table["efficiency"] = np.nan
    if done.empty or "seconds_per_step" not in done:
        return table
    base = done.sort_values("ranks").iloc[0]
    t0, r0 = base["seconds_per_step"], base["ranks"]
    ratio = t0 / table["seconds_per_step"]
    table["efficiency"] = ratio if kind == "weak" else ratio * r0 / table["ranks"]
    return table


def write_results(folder: Path, table: pd.DataFrame, kind: str) -> None:
    from mdrive import plots
    from mdrive.manifest import atomic_path

    write_text(folder / TABLE, table.to_csv(index=False))
    if (table["status"] == "done").any():
        with atomic_path(folder / PLOT) as tmp:
            plots.scaling(table[table["status"] == "done"], kind, tmp)


def cancel_jobs(folder: Path) -> list[str]:
    """Cancel the batch jobs of points whose log is not complete; `scaling run` submits them again."""
    from mdrive import scheduler

    ScalingStudy.load(folder)
    asked: dict[str, list[str]] = {}
    for job_dir in sorted((folder / JOBS).glob(f"*/{SUBMITTED}")):
        job_dir = job_dir.parent
        record = _submitted(job_dir)
        if record["scheduler"] == "local" or record.get("cancelled") or _complete(job_dir):
            continue
        write_json(job_dir / SUBMITTED, {**record, "cancelled": time.time()})  # first: `run` may resubmit it
        asked.setdefault(record["scheduler"], []).append(record["native_id"])
    for name, ids in asked.items():
        scheduler.cancel(name, ids, folder / JOBS / scheduler.PSIJ_FOLDER)
    lines = [f"cancelled {name} job {i}" for name, ids in asked.items() for i in ids]
    return lines or ["no job was still queued or running"]


class Scaling(StudyKind):
    """A scaling study's folder: plain `lmp` jobs, one per point; its one-rank points give compare's speed."""

    name = KIND_NAME
    outputs = (TABLE, PLOT)

    def status(self, folder: Path) -> list[str]:
        return [f"{name}: {state}" for name, state in job_states(folder).items()]

    def cancel(self, folder: Path) -> list[str]:
        return cancel_jobs(folder)

    def speed_points(self, folder: Path, manifest) -> pd.DataFrame | None:
        if not (folder / TABLE).is_file():
            return None
        t = pd.read_csv(folder / TABLE)
        t = t[(t["status"] == "done") & (t["ranks"] == 1)]
        return pd.DataFrame({"atoms": t["atoms"], "steps_per_s": t["timesteps_per_s"]})


KIND = Scaling()
