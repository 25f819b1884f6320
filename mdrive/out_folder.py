"""The output folder (--out) of a protocol command: refused unless it is new, resumable or replaceable; claimed
with the study lock; and only what mdrive wrote there is ever removed, whatever a manifest found there says.

What mdrive wrote: the top-level names its manifest lists (plain names directly inside the folder, never a path
leading elsewhere), and under runs/ only run folders whose every file the run recorded (RUN_FILES) or the run
layer writes itself. A file of anyone else's, anywhere in the folder, makes --overwrite and --resume refuse.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from mdrive import study_kinds, study_lock, submit
from mdrive.errors import InputError
from mdrive.jobs import LOG, METRICS, OUTCOME, RUN_INFO, is_final, read_run_file
from mdrive.manifest import CONFIG, MANIFEST, read_manifest, write_json

RUN_FILES = ".mdrive-files"  # in each run folder: the names of the files mdrive wrote there
# what the run layer writes in a run folder besides what it recorded (a run cut off before its record)
RUN_LAYER = (LOG, RUN_INFO, OUTCOME, METRICS, RUN_FILES, "in.lammps", "data.lammps", "potential.in", "worker.json",
             "worker.log", "exit.json", "loop.in", ".stop")
CHAIN_WAIT_S = 120.0  # a chain's job may start before the command that submitted it has let go of the folder


def check(plan, inputs: dict) -> None:
    """A folder is never overwritten by accident, and only what mdrive wrote there is ever removed."""
    out = plan.out
    too_long = next((part for part in out.parts if len(part.encode()) > 255), None)
    if too_long:
        raise InputError(f"--out: the name {too_long[:40]}... is {len(too_long.encode())} bytes long, over the 255 "
                         f"a file system allows; choose a shorter --out")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    if not out.exists():
        _check_creatable(out)
        return
    if plan.options.resume or plan.options.overwrite or any(out.iterdir()):
        study_lock.busy(out)  # in use says more than "holds results"; claim() takes the lock for good
    if plan.options.resume:
        _check_resumable(plan, inputs)
    elif any(p.name != study_lock.LOCK for p in out.iterdir()):
        _check_overwritable(plan)


def _check_resumable(plan, inputs: dict) -> None:
    out = plan.out
    check_resume(out, plan, inputs)
    for job in plan.jobs:  # what --resume keeps, it reads: each run's files must be what mdrive wrote
        for name in (METRICS, OUTCOME, RUN_INFO):
            read_run_file(out / "runs" / job.name, name)
    _check_mdrive_wrote(out, "--resume", redone=_redone(plan))


def _check_overwritable(plan) -> None:
    """A folder holding results is replaced only on --overwrite, and only if mdrive wrote all of it."""
    out = plan.out
    if not plan.options.overwrite:
        raise InputError(f"--out {out} already holds results: add --resume to continue them, "
                         f"--overwrite to replace them, or choose another --out")
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise InputError(f"--overwrite refuses --out {out}: it is the working folder or holds it; choose a "
                         f"folder of its own, e.g. --out mdrive-{plan.protocol.name}")
    if not (out / MANIFEST).is_file():
        raise InputError(f"--overwrite refuses --out {out}: it holds no {MANIFEST}, so mdrive did not write it; "
                         f"choose another --out")
    held = [p for p in _input_paths(plan) if p.is_relative_to(out)]
    if held:
        raise InputError(f"--overwrite refuses --out {out}: it holds an input of this run ({held[0]}); "
                         f"choose another --out")
    _check_mdrive_wrote(out, "--overwrite")


def _redone(plan) -> set[str]:
    """The run folders --resume removes to run again: those without a final verdict."""
    runs = plan.out / "runs"
    return {j.name for j in plan.jobs if not is_final(runs / j.name, plan.options.retry_failed)}


def _check_mdrive_wrote(out: Path, option: str, redone: set[str] | None = None) -> None:
    foreign = _foreign(out, redone)
    if foreign:
        raise InputError(f"{option} refuses --out {out}: it holds {foreign}, which mdrive did not write there; "
                         f"move it away or choose another --out")


def _foreign(out: Path, redone: set[str] | None = None) -> str | None:
    """The first path in `out` that mdrive did not write, relative to `out`; None when there is none.
    `redone`: check only these run folders (what --resume removes), and nothing at the top."""
    names = outputs(out)
    for path in sorted(out.iterdir()) if redone is None else []:
        if path.name not in names:
            return path.name
    runs = out / "runs"
    if runs.is_symlink() or (runs.exists() and not runs.is_dir()):
        return "runs"
    for run in sorted(runs.iterdir()) if runs.is_dir() else []:
        if redone is not None and run.name not in redone:
            continue
        if run.is_symlink() or not run.is_dir():
            return f"runs/{run.name}"
        wrote = set(RUN_LAYER) | set(_recorded(run)) | _templates()  # a composition cut short has no record
        for path in sorted(run.iterdir()):
            if path.name not in wrote or path.is_symlink() or path.is_dir():
                return f"runs/{run.name}/{path.name}"
    return None


def _templates() -> set[str]:
    from mdrive.decks import templates_dir

    return {p.name for p in templates_dir().glob("*.in")}


def _recorded(run: Path) -> list[str]:
    try:
        names = json.loads((run / RUN_FILES).read_text())
    except (OSError, ValueError, RecursionError):
        return []
    return [n for n in names if _plain(n)] if isinstance(names, list) else []


def record_run_files(run_dir: Path) -> None:
    """Note the files of a run folder as mdrive's (after composing it, and again when its verdict is written)."""
    names = sorted({p.name for p in run_dir.iterdir() if p.is_file() and not p.is_symlink()} | {RUN_FILES})
    write_json(run_dir / RUN_FILES, names)


def remove_run(run_dir: Path) -> None:
    """A run folder, redone from scratch (resume): check() made sure only mdrive's files are in it."""
    if run_dir.is_dir() and not run_dir.is_symlink():
        shutil.rmtree(run_dir)
    else:
        run_dir.unlink(missing_ok=True)


def outputs(out: Path) -> set[str]:
    """The top-level names mdrive wrote in `out`: its own, and the plain names its manifest lists."""
    names = read_manifest(out).get("outputs", [*study_kinds.all_outputs(), ".mdrive"])  # an earlier version's
    listed = {n for n in names if _plain(n)} if isinstance(names, list) else set()
    return {MANIFEST, CONFIG, "runs", submit.JOBS_FILE, submit.JOBS_DIR, study_lock.LOCK, *listed}


def _plain(name) -> bool:
    """A name directly inside a folder: no separator, no '..', nothing absolute."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\0" not in name


def remove_outputs(out: Path) -> None:
    """--overwrite: remove what mdrive wrote in `out` (check() made sure nothing else is there), never following
    a link out of it, and keeping the study lock this command holds."""
    for name in sorted(outputs(out) - {study_lock.LOCK}):
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def clear_for_overwrite(plan) -> None:
    """--overwrite of a study folder (not one this command just claimed): remove the earlier study's outputs."""
    options = plan.options
    if options.overwrite and (plan.out / MANIFEST).is_file() and not options.resume:
        remove_outputs(plan.out)


def claim(plan, inputs: dict) -> Path | None:
    """Create --out if need be and take its study lock for this command's life, then check it again under the
    lock (another command may have written it meanwhile); the top folder this created, to remove on refusal."""
    out = plan.out
    created = next((p for p in reversed([out, *out.parents]) if not p.exists()), None)
    lock_was_there = (out / study_lock.LOCK).exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        chained = os.environ.get(submit.CHAIN_ENV) == str(out)
        study_lock.hold(out, wait_s=CHAIN_WAIT_S if chained else 0.0)
        check(plan, inputs)
    except BaseException as err:
        if created is not None:
            unclaim(created)
        elif not lock_was_there:  # refused: leave the folder as it was
            study_lock.release(out)
            (out / study_lock.LOCK).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise InputError(f"--out {out}: cannot write there ({err.strerror or err}); choose another --out") from None
        raise
    return created


def unclaim(created: Path) -> None:
    """Remove the folders a refused command created for its --out (nothing else is in them)."""
    study_lock.release(created)
    shutil.rmtree(created, ignore_errors=True)


def _check_creatable(out: Path) -> None:
    """A new output folder must be creatable: no file on its path, a writable folder above it."""
    import tempfile

    above = out.parent
    while not above.exists():
        above = above.parent
    if not above.is_dir():
        raise InputError(f"--out {out}: {above} is a file, not a folder; choose another --out")
    try:  # a real try, removed at once: root passes os.access checks, not a read-only file system
        os.rmdir(tempfile.mkdtemp(prefix=".mdrive-probe-", dir=above))
    except OSError as err:
        raise InputError(f"--out {out}: cannot create it in {above} ({err.strerror}); choose another --out") from None


def check_resume(out: Path, plan, inputs: dict) -> None:
    """--resume continues only the same study: same parameters, potential files, structures and decks."""
    if not (out / MANIFEST).exists():
        raise InputError(f"--resume: {out} holds no {MANIFEST}; start without --resume")
    before = read_manifest(out)
    if before.get("command") != plan.protocol.name:
        raise InputError(f"--resume: {out} holds a '{before.get('command')}' study, not '{plan.protocol.name}'")
    if before.get("parameters") != json.loads(json.dumps(plan.parameters)):
        raise InputError(f"--resume: {out} was started with other parameters; resume with the same "
                         f"options, or use another --out")
    for key, what in (("potential", "the potential or its files"), ("stage_potentials", "a stage potential"),
                      ("structures", "the structures"), ("templates", "mdrive's deck templates")):
        if _content(key, before.get(key)) != _content(key, json.loads(json.dumps(inputs.get(key)))):
            raise InputError(f"--resume: {what} changed since {out} was started (its hashes differ from "
                             f"{MANIFEST}'s); resume with the same inputs, or use another --out")


def _input_paths(plan) -> list[Path]:
    """Files this invocation reads: structure sources and potential files."""
    paths = [Path(s.source.rpartition("@")[0]) for s in plan.study.structures if "@" in (s.source or "")]
    for potential in plan.potentials:
        paths += list(potential.files)
    return [p.resolve() for p in paths if p.exists()]


def _content(key: str, entry):
    """What --resume compares of an input: its content (hashes), not how its path was spelled (relative from one
    working folder, absolute in config.yaml and in a --submit job)."""
    try:
        if key == "structures":
            return {name: (s["sha256"], s["n_atoms"]) for name, s in entry.items()}
        if key in ("potential", "stage_potentials"):
            return [(_spec_words(p["spec"], p["files"]), p["family"], p["styles"], sorted(p["files"].values()))
                    for p in (entry if isinstance(entry, list) else [entry]) if p is not None]
    except (AttributeError, KeyError, TypeError):
        pass  # an earlier manifest of another shape: compared whole
    return entry


def _spec_words(spec: str, files: dict) -> list[str]:
    """A potential spec's words with each file it names reduced to the file's name (its content is compared by
    hash): `ase:...?model_paths=./m.model&default_dtype=float32` keeps `float32`, whatever the path."""
    import re

    names = {Path(f).name for f in files}
    return [Path(w).name if Path(w).name in names else w for w in re.split(r"[:?&=,]", spec)]
