"""`mdrive structures random-mixture ...`: generate structure sets."""
from __future__ import annotations

from pathlib import Path

from ase.data import atomic_numbers

from mdrive.errors import InputError


def add(sub) -> None:
    p = sub.add_parser("structures", help="generate structure sets")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True, parser_class=type(p))
    rm = kinds.add_parser("random-mixture", help="random compositions, randomly packed, relaxed with ZBL "
                                                 "(like MLIP Arena's RM24 set)")
    rm.add_argument("--elements", nargs="+", required=True, help="element symbols, e.g. Cu,Ni or Cu Ni")
    rm.add_argument("--count", type=int, default=10)
    rm.add_argument("--atoms", type=int, default=100)
    rm.add_argument("--seed", type=int, default=0)
    rm.add_argument("--out", type=Path, required=True, help="output file (extxyz)")
    rm.set_defaults(run=run)


def run(args, argv) -> int:
    from mdrive.protocols import mixtures

    args.elements = [e for word in args.elements for e in word.split(",") if e]
    unknown = [e for e in args.elements if e not in atomic_numbers or e == "X"]
    if unknown:
        raise InputError(f"unknown element symbol {unknown[0]}")
    if args.out.exists():
        raise InputError(f"{args.out} exists; choose another --out")
    structs = mixtures.generate(args.elements, args.count, args.atoms, args.seed)
    tmp = args.out.with_name(f".{args.out.name}.tmp.extxyz")
    mixtures.write(structs, tmp)
    tmp.replace(args.out)
    print(f"wrote {len(structs)} structures to {args.out}")
    return 0
