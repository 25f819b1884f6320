"""Foundation MLIPs whose weights ship inside their pip wheels, so nothing is downloaded: SevenNet (sevenn)
and CHGNet (chgnet).

`sevennet:NAME|CHECKPOINT.pth|DEPLOYED.pt[?modal=M]` runs natively through SevenNet's serial `pair_style
e3gnn` (mdrive's plugin build of the installed sevenn's own sources) or, with `--backend ase`, through the
ASE bridge with `SevenNetCalculator`. The deployed TorchScript the pair style reads is made once per
checkpoint, modal and sevenn version (`sevenn`'s own deploy) and cached. `chgnet:0.3.0|0.2.0|r2scan|FILE`
runs through the bridge (CHGNet has no LAMMPS pair style). Both routes run one MPI rank per run.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import zipfile
from pathlib import Path

from mdrive.errors import InputError
from mdrive.potentials.base import BACKENDS, Potential, sha256
from mdrive.potentials.files import find_file

CHGNET_MODELS = ("0.3.0", "0.2.0", "r2scan")
# pair_e3gnn keeps its edge arrays on the stack (about 28 bytes an edge); mdrive's run process lets the
# stack grow to the kernel's gap below it (>= 128 MiB, worker.raise_stack): ~4.5 M edges, i.e. about 35,000
# atoms at metal densities with the 5 Å cutoff and LAMMPS's 2 Å skin. Refuse clearly above a safe margin.
E3GNN_MAX_ATOMS = 20_000


def sevennet(spec: str, arg: str, backend: str = "auto") -> Potential:
    name, _, query = arg.partition("?")
    from mdrive.potentials.bridge import options

    modal = options(query, spec, known=("modal",)).get("modal")
    if backend not in BACKENDS:
        raise InputError(f"--backend must be one of {', '.join(BACKENDS)} (got {backend})")
    from mdrive.runtime import load_torch_first

    load_torch_first()  # both routes run libtorch in the run's process
    checkpoint, deployed = _sevennet_file(spec, name)
    if backend == "auto":
        from mdrive.plugins import library

        backend = "plugin" if library("e3gnn") is not None or checkpoint is None else "ase"
    if backend == "ase":
        if checkpoint is None:
            raise InputError(f"potential {spec}: SevenNetCalculator reads checkpoints (.pth), not deployed "
                             f"TorchScript; use the checkpoint, or --backend native")
        elements = _checkpoint_elements(spec, checkpoint, modal)
        from mdrive.potentials.bridge import Calculator, bridged

        kwargs = {"model": str(checkpoint), "device": "cpu", **({"modal": modal} if modal else {})}
        return bridged(spec, Calculator("sevenn.calculator", "SevenNetCalculator", kwargs), family="sevennet-ase",
                       files=(checkpoint,), elements=elements)
    from mdrive.plugins import library

    if deployed is None:  # a missing or unknown modal is refused first: the spec is wrong whatever is built
        _checkpoint_elements(spec, checkpoint, modal)
    plugin = library("e3gnn")
    if plugin is None:
        raise InputError(f"potential {spec}: SevenNet's pair_style e3gnn is not built for this lammps, torch and "
                         f"sevenn; run `python -m mdrive plugins build e3gnn` (about a minute), or --backend ase")
    if deployed is None:
        deployed = deploy(checkpoint, modal)
    elements = _deployed_elements(deployed)
    files = (checkpoint, deployed) if checkpoint else (deployed,)

    def lines(els):
        # pair_e3gnn writes to LAMMPS's log file without checking there is one: under `-log none` it
        # would crash, so the include makes sure one is open (run by hand too); mdrive's runs log anyway
        return ["log log.lammps append", "pair_style e3gnn", f"pair_coeff * * {deployed} {' '.join(els)}"]

    return Potential(spec, "sevennet", ("e3gnn",), lines, elements, files, newton="on", multi_rank=False,
                     plugin=plugin, torch=True, max_atoms=E3GNN_MAX_ATOMS)


def _sevennet_file(spec: str, name: str) -> tuple[Path | None, Path | None]:
    """(checkpoint, deployed model): a name sevenn knows (7net-0, 7net-l3i5, 7net-mf-0...) or a file."""
    if name.endswith((".pth", ".pt")) or "/" in name:
        path = find_file(name)
        return (None, path) if _is_deployed(path) else (path, None)
    try:
        from sevenn.util import pretrained_name_to_path
    except ImportError:
        raise InputError(f"potential {spec}: sevenn is not installed (pip install sevenn==0.13.0)") from None
    try:
        path = Path(pretrained_name_to_path(name))
    except ValueError:
        raise InputError(f"potential {spec}: '{name}' is not a SevenNet model sevenn knows; use 7net-0, "
                         f"7net-l3i5, 7net-mf-0 or a checkpoint file") from None
    if not path.is_file():  # sevenn would download it: never at run time
        raise InputError(f"potential {spec}: {name} is not shipped in the installed sevenn wheel ({path}); "
                         f"give a checkpoint file you downloaded")
    return path, None


def _is_deployed(path: Path) -> bool:
    """A TorchScript file from `sevenn deploy` (a zip with extra/chemical_symbols_to_index)."""
    with contextlib.suppress(zipfile.BadZipFile, OSError), zipfile.ZipFile(path) as z:
        return any(n.endswith("extra/chemical_symbols_to_index") for n in z.namelist())
    return False


def _deployed_elements(path: Path) -> tuple[str, ...]:
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("extra/chemical_symbols_to_index"))
        return tuple(z.read(name).decode().split())


def _checkpoint_elements(spec: str, path: Path, modal: str | None) -> tuple[str, ...]:
    """The elements a checkpoint covers; refuses a missing or unknown modal."""
    import torch
    from ase.data import chemical_symbols

    try:
        config = torch.load(path, map_location="cpu", weights_only=False)["config"]
    except Exception as err:  # a corrupt or foreign file: whatever torch raises is bad input here
        raise InputError(f"potential {spec}: {path} is not a SevenNet checkpoint ({type(err).__name__})") from None
    modals = tuple((config.get("_modal_map") or {}) if config.get("use_modality") else ())
    if modals and modal not in modals:
        raise InputError(f"potential {spec}: this model has several fidelities; add ?modal= one of "
                         f"{', '.join(modals)} (e.g. sevennet:{spec.partition(':')[2].partition('?')[0]}"
                         f"?modal={modals[-1]})")
    if modal and not modals:
        raise InputError(f"potential {spec}: this model has one fidelity; drop ?modal={modal}")
    return tuple(chemical_symbols[int(z)] for z in config["_type_map"])


def deploy(checkpoint: Path, modal: str | None) -> Path:
    """sevenn's deployed TorchScript for `pair_style e3gnn`, made once per checkpoint hash, modal and sevenn
    version (about 10 s) under the mdrive cache; ranks that ask at once wait for the one that makes it."""
    from mdrive.plugins import cache_root, package_version

    key = hashlib.sha256(f"{sha256(checkpoint)} {modal} {package_version('sevenn')}".encode()).hexdigest()[:16]
    root = cache_root() / "sevennet"
    out = root / f"{checkpoint.stem}-{modal or 'single'}-{key}.pt"
    if out.is_file():
        return out
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not out.is_file():
            from sevenn.scripts.deploy import deploy as sevenn_deploy

            tmp = root / f".{out.stem}.{os.getpid()}.pt"
            sevenn_deploy(str(checkpoint), str(tmp), modal=modal)
            tmp.replace(out)
    return out


def chgnet(spec: str, arg: str) -> Potential:
    from mdrive.runtime import load_torch_first

    load_torch_first()
    if arg in CHGNET_MODELS:
        kwargs, files = {"model": arg}, ()
    else:
        path = find_file(arg)
        kwargs, files = {"model": str(path)}, (path,)
    from mdrive.potentials.bridge import Calculator, bridged

    return bridged(spec, Calculator("mdrive.potentials.pretrained", "chgnet_calculator", kwargs), family="chgnet",
                   files=files)


def chgnet_calculator(model: str = "0.3.0"):
    """CHGNet's ASE calculator on the CPU for a shipped model name or a saved model file."""
    try:
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator
    except ImportError:
        raise InputError("potential chgnet: chgnet is not installed (pip install chgnet==0.4.2)") from None
    if model in CHGNET_MODELS:
        net = CHGNet.load(model_name=model, use_device="cpu", verbose=False)
    else:
        net = CHGNet.from_file(model)
    return CHGNetCalculator(model=net, use_device="cpu")
