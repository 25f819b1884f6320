"""`mdrive evscan`: see mdrive/protocols/evscan.py (its Params declare every option)."""
from mdrive.commands import protocol_command

add = protocol_command("evscan")
