"""`mdrive report DIR`: rebuild every table and plot of an output folder from its logs alone."""
from __future__ import annotations

import json
from pathlib import Path

from mdrive.errors import InputError


def add(sub) -> None:
    p = sub.add_parser("report", help="rebuild tables and plots of an output folder from its logs")
    p.add_argument("folder", type=Path)
    p.set_defaults(run=run)


def run(args, argv) -> int:
    from mdrive.ensemble import RUN_INFO
    from mdrive.manifest import MANIFEST
    from mdrive.protocols import ramp

    manifest_path = args.folder / MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"{args.folder} holds no {MANIFEST}: not an mdrive output folder")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("command") != "ramp":
        raise InputError(f"report does not know command '{manifest.get('command')}' yet")
    rows = []
    for info_path in sorted((args.folder / "runs").glob(f"*/{RUN_INFO}")):
        rows.append(ramp.analyze(info_path.parent, json.loads(info_path.read_text())))
    text, _ = ramp.write_results(args.folder, rows, manifest["parameters"])
    print(text)
    return 0
