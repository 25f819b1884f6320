"""`mdrive report DIR`: rebuild every table and plot of an output folder from its logs alone."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from mdrive.errors import InputError

# protocol command -> whether its write_results takes the invocation's parameters
PROTOCOLS = {"ramp": True, "evscan": True, "meltquench": True, "widom": False, "gcmc": False}


def add(sub) -> None:
    p = sub.add_parser("report", help="rebuild tables and plots of an output folder from its logs")
    p.add_argument("folder", type=Path)
    p.set_defaults(run=run)


def run(args, argv) -> int:
    from mdrive.ensemble import RUN_INFO
    from mdrive.manifest import MANIFEST

    manifest_path = args.folder / MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"{args.folder} holds no {MANIFEST}: not an mdrive output folder")
    manifest = json.loads(manifest_path.read_text())
    command = manifest.get("command")
    if command not in PROTOCOLS:
        raise InputError(f"report rebuilds {', '.join(PROTOCOLS)} folders, not '{command}'")
    protocol = importlib.import_module(f"mdrive.protocols.{command}")
    rows = [protocol.analyze(p.parent, json.loads(p.read_text()))
            for p in sorted((args.folder / "runs").glob(f"*/{RUN_INFO}"))]
    extra = (manifest["parameters"],) if PROTOCOLS[command] else ()
    text, _ = protocol.write_results(args.folder, rows, *extra)
    print(text)
    return 0
