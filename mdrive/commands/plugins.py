"""`mdrive plugins build|status [NAME ...]`: mdrive's own LAMMPS plugins (pair_style mace, nequip and allegro,
e3gnn)."""
from __future__ import annotations


def add(sub) -> None:
    from mdrive.plugins import PLUGINS

    p = sub.add_parser("plugins", help="build mdrive's LAMMPS plugins (pair_style mace; pair_style nequip and "
                                       "allegro; SevenNet's pair_style e3gnn from the installed sevenn) for the "
                                       "installed lammps and torch")
    p.add_argument("action", choices=["build", "status"])
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"which plugins ({', '.join(PLUGINS)}; default: every one whose packages are installed)")
    p.add_argument("--force", action="store_true", help="rebuild even when a cached build exists")
    p.set_defaults(run=run)


def run(args, argv) -> int:
    from mdrive import plugins
    from mdrive.errors import InputError

    unknown = sorted(set(args.names) - set(plugins.PLUGINS))
    if unknown:
        raise InputError(f"unknown plugin {', '.join(unknown)}: choose from {', '.join(plugins.PLUGINS)}")
    names = args.names or [n for n in plugins.PLUGINS if plugins.buildable(n)]
    failed = 0
    for name in names:
        path = plugins.library(name)
        style = plugins.PLUGINS[name].style
        if args.action == "status":
            print(f"pair_style {style} plugin: {path if path else 'not built (python -m mdrive plugins build)'}")
            continue
        if path is None or args.force:
            print(f"building the {name} plugin (about a minute)...", flush=True)
            path = plugins.build(name)
        ok = plugins.loads(path, style)
        failed += not ok
        print(f"pair_style {style} plugin: {path} ({'loads' if ok else 'does NOT load'} into this LAMMPS)")
    return 1 if failed else 0
