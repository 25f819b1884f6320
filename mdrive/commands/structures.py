"""`mdrive structures random-mixture ...`: generate structure sets."""
from __future__ import annotations

import os
from pathlib import Path

from ase.data import atomic_numbers

from mdrive.errors import InputError


def add(sub) -> None:
    p = sub.add_parser("structures", help="generate structure sets")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True, parser_class=type(p))
    rm = kinds.add_parser("random-mixture", help="random compositions, randomly packed, relaxed with ZBL "
                                                 "(like MLIP Arena's RM24 set)")
    rm.add_argument("--elements", nargs="+", required=True, help="element symbols, e.g. Cu,Ni or Cu Ni")
    rm.add_argument("--count", type=int, default=10, help=f"structures to make (1 to {MAX_COUNT})")
    rm.add_argument("--atoms", type=int, default=100, help=f"atoms in each (2 to {MAX_ATOMS})")
    rm.add_argument("--seed", type=int, default=0, help="random seed (0 or more)")
    rm.add_argument("--out", type=Path, required=True, help="output file (extxyz)")
    rm.set_defaults(run=run)


MAX_COUNT, MAX_ATOMS = 10_000, 10_000  # a set for MD benchmarks; each is packed and relaxed in one process


def run(args, argv) -> int:
    from mdrive.protocols import mixtures

    args.elements = [e for word in args.elements for e in word.split(",") if e]
    unknown = [e for e in args.elements if e not in atomic_numbers or e == "X"]
    if unknown:
        raise InputError(f"unknown element symbol {unknown[0]}")
    if not args.elements:
        raise InputError("--elements names no element: give symbols, e.g. --elements Cu,Ni")
    for name, value, top in (("--count", args.count, MAX_COUNT), ("--atoms", args.atoms, MAX_ATOMS)):
        if not (1 if name == "--count" else 2) <= value <= top:
            raise InputError(f"{name} {value} is out of range: it must be from {1 if name == '--count' else 2} "
                             f"to {top}")
    if not 0 <= args.seed < 2 ** 32:
        raise InputError(f"--seed {args.seed} is out of range: it must be from 0 to {2 ** 32 - 1}")
    folder = args.out.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK) or len(args.out.name.encode()) > 250:
        why = "the folder does not exist" if not folder.is_dir() else "cannot write a file of that name there"
        raise InputError(f"--out {str(args.out)[:120]}: {why}; choose another --out (in a folder that exists)")
    if args.out.exists() or args.out.is_symlink():
        raise InputError(f"{args.out} exists; choose another --out")
    structs = mixtures.generate(args.elements, args.count, args.atoms, args.seed)
    tmp = args.out.with_name(f".{args.out.name}.tmp.extxyz")
    mixtures.write(structs, tmp)
    tmp.replace(args.out)
    print(f"wrote {len(structs)} structures to {args.out}")
    return 0
