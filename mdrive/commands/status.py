"""`mdrive status OUT`: where a submitted study stands — its runs' progress from their folders and each batch
job's state from the scheduler (a protocol study submitted with --submit, or a scaling study's points)."""
from __future__ import annotations

from pathlib import Path


def add(sub) -> None:
    p = sub.add_parser("status", help="progress and job states of a submitted study", description=__doc__)
    p.add_argument("folder", type=Path, metavar="OUT")
    p.set_defaults(run=main)


def main(args, argv) -> int:
    from mdrive import submit
    from mdrive.protocols import scaling

    if (args.folder / scaling.STUDY).is_file():
        lines = [f"{name}: {state}" for name, state in scaling.job_states(args.folder).items()]
    else:
        lines = submit.status(args.folder)
    print("\n".join(lines))
    return 0
