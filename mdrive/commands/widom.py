"""`mdrive widom`: see mdrive/protocols/widom.py (its Params declare every option)."""
from mdrive.commands import protocol_command

add = protocol_command("widom")
