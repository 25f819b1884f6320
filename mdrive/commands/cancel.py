"""`mdrive cancel OUT`: cancel a submitted study's queued and running jobs. Runs under way end as censored;
the folder stays resumable (`--resume`, with --submit to go on as jobs)."""
from __future__ import annotations

from pathlib import Path


def add(sub) -> None:
    p = sub.add_parser("cancel", help="cancel a submitted study's jobs", description=__doc__)
    p.add_argument("folder", type=Path, metavar="OUT")
    p.set_defaults(run=main)


def main(args, argv) -> int:
    from mdrive import submit

    print("\n".join(submit.cancel(args.folder)))
    return 0
