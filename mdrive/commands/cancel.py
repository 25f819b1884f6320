"""`mdrive cancel OUT`: cancel a study's queued and running batch jobs. A protocol study's runs under way end as
censored and the folder stays resumable (`--resume`, with --submit to go on as jobs); a scaling study's
cancelled points are submitted again by `mdrive scaling run`."""
from __future__ import annotations

from pathlib import Path


def add(sub) -> None:
    p = sub.add_parser("cancel", help="cancel a submitted study's jobs", description=__doc__)
    p.add_argument("folder", type=Path, metavar="OUT")
    p.set_defaults(run=main)


def main(args, argv) -> int:
    from mdrive import study_kinds

    print("\n".join(study_kinds.of_folder(args.folder).cancel(args.folder)))
    return 0
