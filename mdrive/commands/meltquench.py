"""`mdrive meltquench`: see mdrive/protocols/meltquench/ (its Params declare every option)."""
from mdrive.commands import protocol_command

add = protocol_command("meltquench")
