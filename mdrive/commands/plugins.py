"""`mdrive plugins build|status`: mdrive's own LAMMPS plugins (today: pair_style mace)."""
from __future__ import annotations


def add(sub) -> None:
    p = sub.add_parser("plugins", help="build mdrive's pair_style mace plugin for the installed lammps and torch")
    p.add_argument("action", choices=["build", "status"])
    p.add_argument("--force", action="store_true", help="rebuild even when a cached build exists")
    p.set_defaults(run=run)


def run(args, argv) -> int:
    from mdrive import plugins

    path = plugins.library()
    if args.action == "status":
        print(f"pair_style mace plugin: {path if path else 'not built (python -m mdrive plugins build)'}")
        return 0
    if path is None or args.force:
        path = plugins.build()
    ok = plugins.loads(path)
    print(f"pair_style mace plugin: {path} ({'loads' if ok else 'does NOT load'} into this LAMMPS)")
    return 0 if ok else 1
