"""A protocol study's record in its folder: manifest.json written at the start (versions, parameters, the hashes
of every input, the plan's provenance) and completed at the end (outputs, runs summarised, headline), and
config.yaml, which replays the study."""
from __future__ import annotations

from pathlib import Path

from mdrive import study_lock
from mdrive.jobs import METRICS
from mdrive.manifest import CONFIG, MANIFEST, base_manifest, now, read_manifest, structure_hash, write_json
from mdrive.potentials.base import sha256
from mdrive.runtime import build


def inputs(plan) -> dict:
    """The hashes of everything a study reads: compared on --resume and recorded in the manifest."""
    from mdrive.decks import templates_dir

    study = plan.study
    return {
        "potential": _potential(study.potential) if study.potential is not None else None,
        "stage_potentials": [_potential(p) for p in study.stage_potentials] or None,
        "structures": {s.name: {"source": s.source, "sha256": structure_hash(s.atoms), "n_atoms": len(s.atoms)}
                       for s in study.structures},
        "templates": {p.name: sha256(p) for p in sorted(templates_dir().glob("*.in"))},
    }


def _potential(potential) -> dict:
    return {"spec": potential.spec, "family": potential.family, "styles": list(potential.styles),
            "files": potential.hashes(), **potential.about}


def start(plan, argv: list[str], hashes: dict, memory: int | None) -> None:
    """Write the manifest and config.yaml."""
    options = plan.options
    plan.out.mkdir(parents=True, exist_ok=True)
    manifest = base_manifest(plan.protocol.name, argv, plan.parameters, build())
    manifest["ranks_per_run"] = options.ranks_per_run
    manifest["memory_per_run_bytes"] = memory
    manifest.update({k: v for k, v in hashes.items() if v is not None})
    manifest.update(plan.study.provenance)
    if options.resume:
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


def finish(plan, headline, stopped: str | None) -> None:
    """Complete the manifest: what the folder now holds, the runs summarised, the headline."""
    manifest = read_manifest(plan.out)
    manifest["outputs"] = sorted(set(manifest.get("outputs", [])) | {p.name for p in plan.out.iterdir()}
                                 - {MANIFEST, "runs", study_lock.LOCK})
    manifest["summarized"] = [j.name for j in plan.jobs if (plan.out / "runs" / j.name / METRICS).is_file()]
    manifest["finished"] = now()
    manifest["headline"] = headline
    manifest["stopped_early"] = stopped
    write_json(plan.out / MANIFEST, manifest)
