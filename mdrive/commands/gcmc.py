"""`mdrive gcmc`: see mdrive/protocols/gcmc.py (its Params declare every option)."""
from mdrive.commands import protocol_command

add = protocol_command("gcmc")
