"""`mdrive compare OUT.html DIR [DIR ...]`: one self-contained report ranking the potentials of any mdrive output
folders (ramp, evscan, meltquench, widom, gcmc, scaling): leaderboard, figures, provenance; `--format md` writes
the leaderboard as Markdown. A potential is its spec plus its files' hashes; `--label SPEC=NAME` renames it."""
from __future__ import annotations

import sys
from pathlib import Path

from mdrive.errors import InputError


def add(sub) -> None:
    p = sub.add_parser("compare", help="rank potentials across output folders: one offline HTML report",
                       description=__doc__)
    p.add_argument("out", type=Path, metavar="OUT.html")
    p.add_argument("folders", type=Path, nargs="+", metavar="DIR")
    p.add_argument("--label", action="append", default=[], metavar="SPEC=NAME", help="rename a potential")
    p.add_argument("--format", choices=("html", "md"), default="html", help="html (default) or md")
    p.set_defaults(run=main)


def main(args, argv) -> int:
    from mdrive import compare

    labels = {}
    for item in args.label:
        spec, sep, name = item.rpartition("=")
        if not sep or not spec or not name:
            raise InputError(f"--label {item}: write SPEC=NAME, e.g. --label eam:Cu_u3.eam=Cu-EAM")
        labels[spec] = name
    for warning in compare.build(args.out, args.folders, labels, args.format):
        print(f"mdrive: warning: {warning}", file=sys.stderr)
    print(f"mdrive: wrote {args.out}")
    return 0
