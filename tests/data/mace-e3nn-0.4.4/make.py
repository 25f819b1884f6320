# ruff: noqa: I001  (mace must be imported before e3nn here)
"""How tiny.model was made: a tiny random ScaleShiftMACE (the class of MACE's foundation models), pickled whole
under e3nn 0.4.4 as those are shipped, with its energy and forces on a rattled Cu-Ni cell computed there
(reference.json). Run under mace-torch 0.3.16 + e3nn 0.4.4, not the test environment (e3nn 0.6 for sevenn)."""
import json
from pathlib import Path

import mace  # noqa: F401  (first: it lets torch.load read e3nn's constants)
import e3nn
import numpy as np
import torch
from ase.build import bulk
from e3nn import o3
from mace import modules
from mace.calculators import MACECalculator

here = Path(__file__).parent
torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
model = modules.ScaleShiftMACE(
    r_max=4.5, num_bessel=6, num_polynomial_cutoff=5, max_ell=1, interaction_cls=block,
    interaction_cls_first=block, num_interactions=2, num_elements=2,
    hidden_irreps=o3.Irreps("4x0e + 4x1o"), MLP_irreps=o3.Irreps("8x0e"),
    atomic_energies=np.array([-1.5, -1.6]), avg_num_neighbors=12.0, atomic_numbers=[28, 29], correlation=2,
    gate=torch.nn.functional.silu, atomic_inter_scale=0.8, atomic_inter_shift=-0.1)
torch.save(model.double(), here / "tiny.model")

atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
atoms.symbols[::3] = "Ni"
atoms.rattle(0.05, seed=1)
atoms.calc = MACECalculator(model_paths=str(here / "tiny.model"), default_dtype="float64", device="cpu")
(here / "reference.json").write_text(json.dumps({
    "e3nn": e3nn.__version__, "numbers": atoms.numbers.tolist(), "positions": atoms.positions.tolist(),
    "cell": atoms.cell.tolist(), "energy": atoms.get_potential_energy(),
    "forces": atoms.get_forces().tolist()}, indent=1))
