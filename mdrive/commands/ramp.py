"""`mdrive ramp`: see mdrive/protocols/ramp.py (its Params declare every option)."""
from mdrive.commands import protocol_command

add = protocol_command("ramp")
