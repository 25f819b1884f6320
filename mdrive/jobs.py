"""What the driver, the run layer and the results layer share about one run, free of MPI and LAMMPS: the
job a protocol plans, the files a run folder holds, and its verdict from the log and outcome.json."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mdrive.run_setup import Setup

LOG = "log.lammps"
METRICS, RUN_INFO, OUTCOME = "metrics.json", "run.json", "outcome.json"
FINAL = ("valid", "invalid", "error")  # a censored run is not final: resume runs it again


@dataclass
class Job:
    name: str  # its directory under OUT/runs
    compose: Callable[[Path], None]  # writes the deck and its inputs into the run directory
    info: dict = field(default_factory=dict)  # run.json: what analysis needs besides the log
    cost: float = 1.0  # relative expected run time, for balancing the groups
    worker: Setup = field(default_factory=Setup)  # what the run's process sets up first (Potential.worker_setup)
    templates: tuple[str, ...] = ()  # the deck templates it composes (GPU mode reads their fixes)
    refused: str | None = None  # why this run cannot start (a structure rejected up front): recorded, not run


def verdict(analyze, run_dir: Path, info: dict, said: dict) -> dict:
    """A run's metrics from its log and its outcome.json (the same at run time and in `report`)."""
    try:
        metrics = analyze(run_dir, info, said.get("error"))
    except Exception as err:  # a log the analysis cannot read must not cost the other runs
        metrics = {**info, "status": "error", "cause": f"analysis failed: {type(err).__name__}: {err}"}
    if metrics.get("status") not in (*FINAL, "censored"):
        metrics["status"], metrics["cause"] = "error", f"analysis gave no verdict ({metrics.get('status')!r})"
    metrics.setdefault("cause", None)
    if metrics["status"] == "error" and said.get("stopped") and not said.get("error"):
        metrics["status"] = "censored"  # stopped before it wrote anything to judge: nothing failed
    if metrics["status"] == "censored" and said.get("stopped"):
        metrics["cause"] = said["stopped"]
    wrong = _launch_of(run_dir, said.get("ranks"))
    if wrong:
        metrics["status"], metrics["cause"] = "error", f"wrong launch: {wrong}"
    metrics["wall_s"] = said.get("wall_s")  # every verdict: status, cause and wall time
    return metrics


def launch_error(runs: list, planned: int) -> str | None:
    """Why a log's MPI rank count ("on N procs") is not the planned one; None when every block agrees.
    E.g. srun without PMI starts N independent 1-rank LAMMPS runs that all exit 0."""
    seen = sorted({r.procs for r in runs if r.procs is not None})
    if seen and seen != [planned]:
        return (f"the log ran on {' and '.join(map(str, seen))} procs, {planned} were planned (a launcher that did "
                f"not start one MPI world, e.g. srun without --mpi=pmi2)")
    return None


def _launch_of(run_dir: Path, planned: int | None) -> str | None:
    if not planned or not (run_dir / LOG).is_file():
        return None
    from mdrive.logs import read_log

    return launch_error(read_log(run_dir / LOG).runs, planned)


# what a run folder's JSON files hold, key -> allowed types (read back as untrusted input: report, --resume)
SHAPES = {OUTCOME: {"error": (str, type(None)), "stopped": (str, type(None)), "wall_s": (int, float, type(None)),
                    "ranks": (int, type(None)), "peak_rss_bytes": (int, type(None)),
                    "hosts": (str, type(None))},
          METRICS: {"status": (str,), "cause": (str, type(None))},
          RUN_INFO: {}}


def read_run_file(run_dir: Path, name: str) -> dict | None:
    """One of a run folder's JSON files (outcome.json, metrics.json, run.json), checked against what mdrive
    writes; None when it is not there, InputError (one line) when it is not what mdrive wrote."""
    from mdrive.errors import InputError
    from mdrive.untrusted import read_json

    path = run_dir / name
    if not path.exists() and not path.is_symlink():
        return None
    what = f"the {name} mdrive writes; remove runs/{run_dir.name} to run it again"
    data = read_json(path, what)
    for key, kinds in SHAPES[name].items():
        value = data.get(key)
        if (key in data or name == METRICS) and (not isinstance(value, kinds) or isinstance(value, bool)):
            raise InputError(f"{path}: '{key}' is not what mdrive writes; remove runs/{run_dir.name} to run it again")
    if name == METRICS and data["status"] not in (*FINAL, "censored"):
        raise InputError(f"{path}: status '{data['status'][:40]}' is not one mdrive gives; remove runs/{run_dir.name} "
                         f"to run it again")
    return data


def read_metrics(run_dir: Path) -> dict | None:
    """A run's verdict (metrics.json), None when there is none or it is not one mdrive wrote (the one reader of
    it: the ensemble's resume and progress, status, the chain's count)."""
    from mdrive.errors import InputError

    try:
        return read_run_file(run_dir, METRICS)
    except InputError:
        return None


def is_final(run_dir: Path, retry_failed: bool = False) -> bool:
    """Whether resume keeps this run: a final verdict (with `retry_failed`, not an `error` one)."""
    metrics = read_metrics(run_dir)
    keep = ("valid", "invalid") if retry_failed else FINAL
    return metrics is not None and metrics["status"] in keep


def read_outcome(run_dir: Path) -> dict:
    return read_run_file(run_dir, OUTCOME) or {}


def run_tables(out: Path, name: str):
    """Every run's `name` CSV under out/runs, concatenated with a `run` column; None when there is none."""
    import pandas as pd

    frames = [pd.read_csv(p).assign(run=p.parent.name) for p in sorted((out / "runs").glob(f"*/{name}"))]
    return pd.concat(frames, ignore_index=True) if frames else None


def read_run_log(run_dir: Path, error: str | None = None):
    """(the run's parsed log or None, its error): LAMMPS's own ERROR text wins over what Python saw,
    but not over the supervisor's word that the run's process crashed or ran out of memory."""
    from mdrive.logs import read_log
    from mdrive.metrics import is_breakdown, model_failed_at

    log = read_log(run_dir / LOG) if (run_dir / LOG).is_file() else None
    if is_breakdown(error):
        return log, error
    failed = model_failed_at(error)
    if failed is not None:  # the model failed in that step: what LAMMPS printed from it on is not the model's
        if log is not None and log.runs:
            last = log.runs[-1]
            last.thermo = last.thermo[last.thermo["Step"] < failed] if "Step" in last.thermo else last.thermo
        return log, error
    return log, (log.error if log and log.error else None) or error
