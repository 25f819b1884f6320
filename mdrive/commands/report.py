"""`mdrive report DIR`: rebuild every table and plot of an output folder from its logs alone."""
from __future__ import annotations

from pathlib import Path

from mdrive.errors import InputError


def add(sub) -> None:
    p = sub.add_parser("report", help="rebuild tables and plots of an output folder from its logs")
    p.add_argument("folder", type=Path)
    p.set_defaults(run=run)


def run(args, argv) -> int:
    from mdrive import protocol, study_kinds, study_lock
    from mdrive.manifest import read_manifest

    manifest = read_manifest(args.folder)
    p = study_kinds.of_folder(args.folder, manifest)
    if not isinstance(p, protocol.Protocol):
        raise InputError(f"report rebuilds a protocol's folder from its runs' logs; {args.folder} is a {p.name} "
                         f"study (its own command collects it)")
    if not isinstance(manifest.get("config"), dict):
        raise InputError(f"report: {args.folder} was written by an older mdrive (its manifest holds no config); "
                         f"run the study again")
    config = {k: v for k, v in manifest["config"].items() if k != "command"}
    _, params = protocol.resolve(p, {}, config)
    study_lock.hold(args.folder)  # a command still running there would write beside this one
    rows = rebuild(args.folder, manifest, p.analyze)
    text, _ = p.summarize(args.folder, rows, params)
    print(text)
    return 0


def rebuild(folder: Path, manifest: dict, analyze) -> list[dict]:
    """Every run's verdict again, from its log and outcome.json; refused (nothing written) unless every
    run the study's tables summarised is there to read, so they are never replaced by partial ones."""
    from mdrive.jobs import RUN_INFO, read_outcome, read_run_file, verdict

    runs = folder / "runs"
    names = manifest.get("summarized") or sorted(p.parent.name for p in runs.glob(f"*/{RUN_INFO}"))
    if not isinstance(names, list) or not all(isinstance(n, str) and "/" not in n and n not in ("", ".", "..")
                                              for n in names):
        raise InputError(f"report: {folder}/manifest.json lists its runs ('summarized') not as mdrive writes them; "
                         f"its tables are left as they are")
    missing = [n for n in names if not (runs / n / RUN_INFO).is_file()]
    if not names or missing:
        what = f"{len(missing)} of its {len(names)} runs are missing (e.g. runs/{missing[0]})" if missing \
            else "it holds no runs"
        raise InputError(f"report cannot rebuild {folder} completely: {what}; its tables are left as they are")
    rows = []
    for name in names:
        try:
            info, said = read_run_file(runs / name, RUN_INFO), read_outcome(runs / name)
        except InputError as err:
            raise InputError(f"report cannot rebuild {folder}: {err}; its tables are left as they are") from None
        rows.append(verdict(analyze, runs / name, info, said))
        _check_log(folder, runs / name, rows[-1])
    return rows


def _check_log(folder: Path, run_dir: Path, again: dict) -> None:
    """A run judged from its log before must be judged from it again: a log that went missing, empty or
    unreadable since then is said, not turned into an `error` verdict (the tables are left as they were)."""
    from mdrive.jobs import LOG, read_metrics

    before = read_metrics(run_dir)
    if before is None or before["status"] not in ("valid", "invalid") or again["status"] != "error":
        return
    log = run_dir / LOG
    state = "missing" if not log.exists() else "not a file" if not log.is_file() else \
        "empty" if log.stat().st_size == 0 else None
    if state is None and str(again.get("cause")).startswith("analysis failed"):
        why = f"its files no longer give a verdict ({again['cause'][:120]})"
    else:
        why = f"{LOG} is {state or 'unreadable (no thermo output mdrive can judge)'}"
    raise InputError(f"report cannot rebuild {folder}: runs/{run_dir.name}: {why}, and that run was "
                     f"{before['status']}; restore it (or rerun the study); its tables are left as they are")
