"""Command-line commands; each module has add(subparsers), which sets `run(args, argv) -> exit code`.
A protocol's command is generated from its declaration (mdrive.protocol): `protocol_command(name)`."""
from __future__ import annotations


def protocol_command(name: str):
    """`add(subparsers)` for a protocol command: its options come from RunOptions and the protocol's Params."""

    def add(sub) -> None:
        from mdrive import protocol
        from mdrive.params import add_options

        p = protocol.get(name)
        parser = sub.add_parser(name, help=p.help, description=p.description)
        add_options(parser, protocol.RunOptions, {"out": f"mdrive-{name}"})
        add_options(parser, p.params, reduced_by=p.reduced_by)
        parser.set_defaults(run=lambda args, argv: run(p, args, argv))

    return add


def run(p, args, argv) -> int:
    from mdrive import driver

    given = {k: v for k, v in vars(args).items() if k not in ("run", "command")}
    return driver.run_protocol(lambda: driver.plan_for(p, given), argv)

