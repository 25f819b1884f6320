"""Tiny NequIP and Allegro models for the tests, made offline with nequip's own tools: trained (nequip-train) on
strained, rattled fcc copper labelled by ASE's EMT, then compiled for the LAMMPS pair styles (nequip-compile
--mode aotinductor --target pair_nequip / pair_allegro). Cached per nequip, nequip-allegro and torch version in
the test session's cache; the two models are made at once (about a minute and a half on two cores)."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import yaml

BIN = Path(sys.executable).parent
R_MAX = 4.0
SPECIES = ["Cu"]


@dataclass(frozen=True)
class Model:
    checkpoint: Path  # for NequIPCalculator (the bridge, and the reference)
    compiled: Path  # .nequip.pt2 for pair_style nequip / allegro


def frames(path: Path, count: int = 48) -> Path:
    """`count` 32-atom copper cells, strained by up to ±4 % and rattled, with EMT energy, forces and stress."""
    import ase.io
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(11)
    out = []
    for _ in range(count):
        atoms = bulk("Cu", "fcc", 3.61, cubic=True).repeat(2)
        atoms.set_cell(atoms.cell * rng.uniform(0.96, 1.04, 3), scale_atoms=True)
        atoms.positions += rng.normal(0.0, 0.08, atoms.positions.shape)
        atoms.calc = EMT()
        results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
                   "stress": atoms.get_stress()}
        atoms.calc = SinglePointCalculator(atoms, **results)
        out.append(atoms)
    ase.io.write(path, out, format="extxyz")
    return path


MODELS = {
    "nequip": {"_target_": "nequip.model.NequIPGNNModel", "l_max": 1, "parity": True, "num_layers": 2,
               "num_features": 8, "radial_mlp_depth": 1, "radial_mlp_width": 8},
    "allegro": {"_target_": "allegro.model.AllegroModel", "l_max": 1, "num_layers": 1,
                "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed", "num_bessels": 4},
                "scalar_embed_mlp_hidden_layers_width": 8, "num_scalar_features": 8, "num_tensor_features": 4,
                "allegro_mlp_hidden_layers_width": 8, "readout_mlp_hidden_layers_width": 8},
}


def config(style: str, data: Path, epochs: int = 12) -> dict:
    """nequip-train's configuration: the `style` model on the frames, energies, forces and stresses."""
    transforms = [{"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper",
                   "model_type_names": SPECIES, "chemical_species_to_atom_type_map": {s: s for s in SPECIES}},
                  {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": R_MAX}]
    loader = {"_target_": "torch.utils.data.DataLoader", "batch_size": 4}
    metrics = {"_target_": "nequip.train.EnergyForceStressMetrics",
               "coeffs": {"total_energy_mae": 1.0, "forces_mae": 1.0, "stress_mae": 1.0}}
    return {
        "run": ["train"], "seed": 5,
        "data": {"_target_": "nequip.data.datamodule.NequIPDataModule", "seed": 5,
                 "split_dataset": {"dataset": {"_target_": "nequip.data.dataset.ASEDataset", "file_path": str(data),
                                               "transforms": transforms}, "train": 40, "val": 8},
                 "train_dataloader": loader, "val_dataloader": loader,
                 "stats_manager": {"_target_": "nequip.data.CommonDataStatisticsManager", "type_names": SPECIES}},
        "trainer": {"_target_": "lightning.Trainer", "max_epochs": epochs, "logger": False,
                    "enable_progress_bar": False,
                    "callbacks": [{"_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
                                   "dirpath": "${hydra:runtime.output_dir}", "filename": "last"}]},
        "training_module": {
            "_target_": "nequip.train.EMALightningModule",
            "loss": {"_target_": "nequip.train.EnergyForceStressLoss", "per_atom_energy": True,
                     "coeffs": {"total_energy": 1.0, "forces": 1.0, "stress": 1.0}},
            "val_metrics": metrics,
            "optimizer": {"_target_": "torch.optim.Adam", "lr": 0.01},
            "model": {**MODELS[style], "seed": 5, "model_dtype": "float64", "type_names": SPECIES, "r_max": R_MAX,
                      "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
                      "per_type_energy_shifts": "${training_data_stats:per_atom_energy_mean}",
                      "per_type_energy_scales": "${training_data_stats:forces_rms}"}},
    }


def _pipeline(style: str, folder: Path, data: Path) -> subprocess.Popen:
    """nequip-train, then nequip-compile for the style's pair style, as one background shell."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.yaml").write_text(yaml.safe_dump(config(style, data)))
    train = [str(BIN / "nequip-train"), "-cp", str(folder), "-cn", "train", f"hydra.run.dir={folder / 'run'}"]
    compile_ = [str(BIN / "nequip-compile"), str(folder / "run" / "last.ckpt"), str(folder / f"{style}.nequip.pt2"),
                "--mode", "aotinductor", "--device", "cpu", "--target", f"pair_{style}"]
    script = f"{subprocess.list2cmdline(train)} && {subprocess.list2cmdline(compile_)}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCHINDUCTOR_CACHE_DIR": str(folder / "inductor")}  # hermetic
    return subprocess.Popen(["bash", "-c", script], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


def models(cache: Path) -> dict[str, Model]:
    """The two models, made once per versions into `cache`."""
    key = "-".join(metadata.version(d) for d in ("nequip", "nequip-allegro", "torch"))
    root = cache / f"nequip-models-{key}"
    made = {s: Model(root / s / "run" / "last.ckpt", root / s / f"{s}.nequip.pt2") for s in MODELS}
    if all(m.compiled.is_file() for m in made.values()):
        return made
    root.mkdir(parents=True, exist_ok=True)
    data = frames(root / "cu-emt.extxyz")
    running = {s: _pipeline(s, root / s, data) for s in MODELS}
    for style, proc in running.items():
        log, _ = proc.communicate(timeout=1200)
        if proc.returncode:
            raise RuntimeError(f"making the {style} model failed:\n{log[-3000:]}")
    return made


# nequip's import changes e3nn's global settings (MACE models built after it no longer pickle), so the pytest
# process never imports it: the calculator runs in a process of its own
REFERENCE = """
import json, sys
import ase.io
from nequip.integrations.ase import NequIPCalculator
atoms = ase.io.read(sys.argv[2])
atoms.calc = NequIPCalculator._from_saved_model(sys.argv[1], device="cpu")
print(json.dumps({"n": len(atoms), "energy": atoms.get_potential_energy(), "forces": atoms.get_forces().tolist(),
                  "stress": atoms.get_stress(voigt=True).tolist()}))
"""


def calculator_values(checkpoint: Path, structure: Path) -> dict:
    """NequIPCalculator alone on the checkpoint: energy, forces and stress (ASE's Voigt order) of `structure`."""
    import json

    done = subprocess.run([sys.executable, "-c", REFERENCE, str(checkpoint), str(structure)], capture_output=True,
                          text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])
