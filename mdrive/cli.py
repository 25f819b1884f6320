"""`python -m mdrive COMMAND ...`: one thin module per command in mdrive/commands/."""
from __future__ import annotations

import argparse
import os
import re
import sys

from mdrive import study_kinds
from mdrive.errors import InputError
from mdrive.study_kinds import PROTOCOLS

# every protocol's command is generated from its declaration; the others are modules of mdrive/commands
COMMANDS = ("info", *PROTOCOLS, "scaling", "status", "cancel", "report", "compare", "structures", "plugins")


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2 (printed by MPI rank 0 only)."""

    def error(self, message):
        command = " ".join(self.prog.split()[1:])
        say(f"{message}; see `python -m mdrive {command + ' ' if command else ''}--help`")
        raise SystemExit(2)


def say(message: str) -> None:
    # before MPI starts, the launcher's rank variable tells which process speaks
    if os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")) == "0":
        print(f"mdrive: {message}", file=sys.stderr)


def build_parser(only: str | None = None) -> Parser:
    """The parser of every command, or (`only`) of the one invoked: its modules alone are imported."""
    import importlib

    parser = Parser(prog="mdrive", description="LAMMPS-centric MD driver for ML interatomic potentials")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    from mdrive.commands import protocol_command

    registered = study_kinds.registered_protocols()  # protocols from outside mdrive get their command too
    names = [*COMMANDS, *registered]
    for name in names if only not in names else (only,):
        generated = name in PROTOCOLS or name in registered
        add = protocol_command(name) if generated else importlib.import_module(f"mdrive.commands.{name}").add
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(_negative_values(argv))
    if not args.command:
        parser.error(f"name a command: {', '.join(COMMANDS)}")
    try:
        return args.run(args, argv)
    except InputError as err:
        say(str(err))
        return 2
    except Exception:
        _abort_others()
        raise


def _negative_values(argv: list[str]) -> list[str]:
    """argparse reads a value such as '-3.2,-3.0' as an option: glue it to its option (--mu=-3.2,-3.0)."""
    out = []
    for arg in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and re.fullmatch(r"-\.?[0-9][^\s]*", arg):
            out[-1] += "=" + arg
        else:
            out.append(arg)
    return out


def _abort_others() -> None:
    """An uncaught exception on one rank would leave the others waiting forever: end the whole job."""
    if "mpi4py.MPI" in sys.modules:
        from mpi4py import MPI

        if MPI.Is_initialized() and not MPI.Is_finalized() and MPI.COMM_WORLD.size > 1:
            import traceback

            traceback.print_exc()
            MPI.COMM_WORLD.Abort(1)
