"""`mdrive status OUT`: where a study stands — its runs' progress from their folders and each batch job's state
from the scheduler (a protocol study submitted with --submit, or a scaling study's points)."""
from __future__ import annotations

from pathlib import Path


def add(sub) -> None:
    p = sub.add_parser("status", help="progress and job states of a submitted study", description=__doc__)
    p.add_argument("folder", type=Path, metavar="OUT")
    p.set_defaults(run=main)


def main(args, argv) -> int:
    from mdrive import study_kinds

    print("\n".join(study_kinds.of_folder(args.folder).status(args.folder)))
    return 0
