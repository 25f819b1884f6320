"""Adapters for the MLIP styles: MACE (three routes), NequIP, Allegro, ACE (pace); each also runs on the PyPI
wheel through mdrive's plugin of its pair style or through the ASE bridge.

None of these styles is in the PyPI wheel; `Potential.check_build` refuses them there with the build
that has them. The rules encoded here are the ones the style sources enforce (docs/lammps-notes §5).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from mdrive.errors import InputError
from mdrive.potentials.base import BACKENDS, Kokkos, Potential
from mdrive.potentials.files import find_file


def mace(spec: str, arg: str, backend: str = "auto") -> Potential:
    """mace:FILE picks the route from the file's name: *-mliap_lammps.pt (ML-IAP unified), *.json
    (symmetrix), *.model (a trained model: the ASE bridge), anything else TorchScript for `pair_style
    mace`. `?no_domain_decomposition` selects that pair_mace mode, valid on one rank only (mace#238,
    #843). backend `auto` takes pair_style mace when the build has it, else mdrive's plugin when it is
    built (`mdrive plugins build`), else the ASE bridge when the trained model is there (FILE.model
    beside FILE.model-lammps.pt); `native`, `plugin` and `ase` force one."""
    name, _, option = arg.partition("?")
    path = find_file(name)
    if backend not in BACKENDS:
        raise InputError(f"--backend must be one of {', '.join(BACKENDS)} (got {backend})")
    trained = _trained_model(path)
    export = path if path.suffix != ".model" else None
    if export is not None and path.suffix != ".json":  # a TorchScript route; before _auto_backend loads LAMMPS
        from mdrive.runtime import load_torch_first

        load_torch_first()
    if backend == "auto":
        backend = _auto_backend(export, trained)
    if backend == "ase":
        if trained is None:
            raise InputError(f"potential {spec}: the ASE bridge needs the trained MACE model (.model file) "
                             f"next to {path.name}")
        from mdrive.potentials.bridge import Calculator, bridged
        from mdrive.potentials.mace_e3nn import usable

        return bridged(spec, Calculator("mace.calculators", "MACECalculator", {
            "model_paths": str(usable(trained)), "default_dtype": "float64", "device": "cpu"}), files=(trained,))
    plugin = None
    if backend == "plugin":
        from mdrive.plugins import library

        plugin = library()
        if plugin is None:
            raise InputError("--backend plugin: mdrive's pair_style mace plugin is not built for this lammps and "
                             "torch; run `python -m mdrive plugins build` (about a minute)")
    if export is None:
        raise InputError(f"potential {spec}: pair_style mace reads the LAMMPS export of the model "
                         f"(mace_create_lammps_model {path.name}), or use --backend ase")
    if path.name.endswith("-mliap_lammps.pt"):
        return Potential(spec, "mace-mliap", ("mliap",),
                         lambda els: [f"pair_style mliap unified {path} 0", f"pair_coeff * * {' '.join(els)}"],
                         None, (path,), newton="on", kokkos=Kokkos(), torch=True)
    if path.suffix == ".json":
        return Potential(spec, "symmetrix", ("symmetrix/mace",),
                         _star("symmetrix/mace", path), _json_elements(path), (path,), newton="on",
                         kokkos=Kokkos())
    if option not in ("", "no_domain_decomposition"):
        raise InputError(f"potential {spec}: unknown option '{option}'; the only one is no_domain_decomposition")
    style = f"mace {option}".strip()
    return Potential(spec, "mace", ("mace",), _star(style, path), None, (path,), newton="on",
                     multi_rank=option == "", plugin=plugin, torch=True,
                     kokkos=Kokkos())


def _trained_model(path: Path) -> Path | None:
    """The trained model a file is or was exported from (m.model for m.model-lammps.pt)."""
    if path.suffix == ".model":
        return path
    stem = path.name.removesuffix("-lammps.pt")
    candidate = path.with_name(stem)
    return candidate if stem != path.name and candidate.suffix == ".model" and candidate.is_file() else None


def _auto_backend(export: Path | None, trained: Path | None) -> str:
    """native when the build has pair_style mace, else mdrive's plugin when built, else the bridge."""
    from mdrive.plugins import library

    if export is not None and _build_has("mace"):
        return "native"
    if export is not None and library() is not None:
        return "plugin"
    return "ase" if trained is not None else "native"


def _build_has(style: str) -> bool:
    from mdrive.runtime import build

    return build().has_pair(style)


def nequip(spec: str, arg: str, backend: str = "auto") -> Potential:
    """nequip:FILE: message passing, so one rank and newton off (pair_nequip's rules); see _nequip_framework."""
    return _nequip_framework(spec, arg, backend, "nequip")


def allegro(spec: str, arg: str, backend: str = "auto") -> Potential:
    """allegro:FILE: strictly local, so any number of ranks, newton on; see _nequip_framework."""
    return _nequip_framework(spec, arg, backend, "allegro")


def _nequip_framework(spec: str, arg: str, backend: str, style: str) -> Potential:
    """A NequIP-framework model. FILE.nequip.pt2 compiled for the pair style (nequip-compile --mode aotinductor
    --target pair_nequip|pair_allegro) runs in `pair_style nequip|allegro`: the build's own (native) or mdrive's
    plugin; FILE.nequip.pth (TorchScript, torch < 2.10) natively only. A checkpoint or package (.ckpt,
    .nequip.zip), or a .nequip.pt2 compiled with --target ase, runs nequip's NequIPCalculator through the
    ASE bridge. backend `auto` takes the build's style, else the plugin, for a compiled file."""
    if backend not in BACKENDS:
        raise InputError(f"--backend must be one of {', '.join(BACKENDS)} (got {backend})")
    path = find_file(arg)
    compiled = nequip_compiled(spec, path) if path.name.endswith(".nequip.pt2") else None
    for_pair = path.name.endswith(".nequip.pth") or (compiled is not None and compiled.target != "ase")
    if for_pair:
        from mdrive.runtime import load_torch_first

        load_torch_first()  # the pair styles run libtorch inside LAMMPS: torch before LAMMPS (_build_has)
    if backend == "auto":
        backend = "ase" if not for_pair else "native" if _build_has(style) else "plugin"
    if backend == "ase":
        return _nequip_bridge(spec, path, compiled, for_pair, style)
    fix = f"nequip-compile {path.name} out.nequip.pt2 --mode aotinductor --device cpu --target pair_{style}"
    if not for_pair:
        raise InputError(f"potential {spec}: pair_style {style} reads a model compiled for it: {fix}")
    if compiled is not None and compiled.target != f"pair_{style}":
        raise InputError(f"potential {spec}: {path.name} was compiled with --target {compiled.target}; "
                         f"{style}: needs --target pair_{style}, e.g. {fix}")
    plugin = _nequip_plugin(spec, path, compiled, fix) if backend == "plugin" else None
    local = style == "allegro"
    return Potential(spec, style, (style,), _star(style, path), compiled.types if compiled else None, (path,),
                     newton="on" if local else "off", multi_rank=local, plugin=plugin, torch=True,
                     kokkos=Kokkos() if local and plugin is None else None,
                     about={"nequip_model": dict(compiled.about)} if compiled else {})


def _nequip_plugin(spec: str, path: Path, compiled, fix: str) -> Path:
    """mdrive's plugin build of pair_style nequip/allegro, for an AOTInductor model compiled for this CPU."""
    from mdrive.plugins import library

    if compiled is None:
        raise InputError(f"potential {spec}: mdrive's plugin runs AOTInductor models (.nequip.pt2), not "
                         f"TorchScript: {fix}")
    if compiled.device != "cpu":
        raise InputError(f"potential {spec}: {path.name} was compiled for {compiled.device}; mdrive's plugin "
                         f"runs CPU models: {fix}")
    plugin = library("nequip")
    if plugin is None:
        raise InputError(f"potential {spec}: mdrive's pair_style nequip/allegro plugin is not built for this "
                         f"lammps and torch; run `python -m mdrive plugins build nequip` (about half a minute)")
    return plugin


def _nequip_bridge(spec: str, path: Path, compiled, for_pair: bool, style: str) -> Potential:
    if for_pair:
        raise InputError(f"potential {spec}: the ASE bridge runs nequip's NequIPCalculator, which reads the "
                         f"checkpoint (.ckpt), the package (.nequip.zip) or a model compiled with --target ase, "
                         f"not {path.name}")
    from mdrive.potentials.bridge import Calculator, bridged

    return bridged(spec, Calculator("mdrive.potentials.mlip", "nequip_calculator", {"model": str(path)}),
                   family=f"{style}-ase", files=(path,), elements=compiled.types if compiled else None)


def nequip_calculator(model: str):
    """nequip's ASE calculator for a compiled model (--target ase) or a checkpoint or package, on the CPU."""
    from nequip.integrations.ase import NequIPCalculator

    if model.endswith(".nequip.pt2"):
        return NequIPCalculator.from_compiled_model(model, device="cpu")
    return NequIPCalculator._from_saved_model(model, device="cpu")  # nequip's loader of .ckpt and .nequip.zip


@dataclass(frozen=True)
class NequIPCompiled:
    """What a .nequip.pt2 declares in its AOTInductor metadata (read from the zip; torch never loads it here)."""

    target: str  # pair_nequip, pair_allegro or ase, from its declared inputs and outputs
    types: tuple[str, ...]
    device: str
    about: tuple[tuple[str, str], ...]  # the metadata for the manifest


def nequip_compiled(spec: str, path: Path) -> NequIPCompiled:
    """The metadata of a .nequip.pt2; an unreadable or foreign file is refused in one line."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith(".wrapper_metadata.json"))
            meta = json.loads(z.read(name)[:1 << 20])
        inputs, outputs = meta["nequip_aoti_inputs"].split(), meta["nequip_aoti_outputs"].split()
        types = tuple(str(meta["type_names"]).split())
    except (OSError, zipfile.BadZipFile, StopIteration, ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"potential {spec}: {path} is not a model compiled by nequip-compile --mode aotinductor "
                         f"(no readable nequip metadata in it)") from None
    target = "ase" if "total_energy" in outputs else "pair_nequip" if "cell" in inputs else "pair_allegro"
    about = tuple((k, str(v)) for k, v in meta.items() if not k.startswith("AOTI_") or k == "AOTI_DEVICE_KEY")
    return NequIPCompiled(target, types, str(meta.get("AOTI_DEVICE_KEY", "cpu")), about)


def pace(spec: str, arg: str, backend: str = "auto") -> Potential:
    """pace:FILE[.yace|.yaml|.ace]; pace:FILE.yaml,FILE.asi adds the extrapolation grade (pace/extrapolation);
    `?recursive` selects that evaluator (CPU only; the default `product` also runs on GPUs). backend `auto`
    takes pair_style pace when the build has it (ML-PACE), else python-ace's calculator through the ASE
    bridge; `native` and `ase` force one."""
    arg, _, option = arg.partition("?")
    if option not in ("", "recursive", "product"):
        raise InputError(f"potential {spec}: unknown option '{option}'; pace takes ?product or ?recursive")
    if backend not in BACKENDS or backend == "plugin":
        raise InputError(f"potential {spec}: --backend {backend}: pace runs natively (pair_style pace) or through "
                         f"the ASE bridge (python-ace); use auto, native or ase")
    names = arg.split(",")
    if len(names) > 2:
        raise InputError(f"potential {spec}: pace takes a potential file and at most an active set (p.yaml,p.asi)")
    paths = tuple(find_file(n) for n in names)
    elements = _ace_elements(paths[0])
    if backend == "ase" or (backend == "auto" and not _build_has("pace")):
        if option == "recursive":
            raise InputError(f"potential {spec}: ?recursive selects an evaluator of pair_style pace, which this "
                             f"LAMMPS lacks; python-ace evaluates it through the ASE bridge: drop ?recursive")
        return _pace_bridge(spec, paths, elements)
    if len(paths) == 2:
        return Potential(spec, "pace/extrapolation", ("pace/extrapolation",), _pace_graded(paths), elements, paths,
                         newton="on", kokkos=Kokkos())
    algorithm = option or "product"
    refuse = "pace/kk on the GPU needs 'product', not 'recursive' (LAMMPS stops with \"Must use 'product' " \
             "algorithm with pair pace/kk on the GPU\")" if algorithm == "recursive" else ""
    return Potential(spec, "pace", ("pace",), _star(f"pace {algorithm}", paths[0]), elements, paths,
                     newton="on", kokkos=Kokkos(refuse=refuse))


def _star(style: str, files) -> callable:
    return lambda els: [f"pair_style {style}", f"pair_coeff * * {files} {' '.join(els)}"]


def _pace_bridge(spec: str, paths: tuple[Path, ...], elements) -> Potential:
    """python-ace's PyACECalculator through the ASE bridge, for a build without ML-PACE; with an active set
    (.asi) each thermo row carries the largest per-atom extrapolation grade, v_mdrive_gamma."""
    if len(paths) == 2 and paths[0].suffix != ".yaml":
        raise InputError(f"potential {spec}: an active set (.asi) goes with the B-basis potential it was built "
                         f"for (.yaml), e.g. pace:p.yaml,p.asi")
    try:
        import pyace  # noqa: F401  (refused here, in one line, not inside the first run)
    except ImportError:
        raise InputError(f"potential {spec}: this LAMMPS has no pair_style pace and python-ace is not installed: "
                         f"pip install 'mdrive[ace]' (or build LAMMPS with ML-PACE)") from None
    from mdrive.potentials.bridge import FIX, Calculator, bridged

    kwargs = {"basis_set": str(paths[0]), **({"active_set": str(paths[1])} if len(paths) == 2 else {})}
    potential = bridged(spec, Calculator("mdrive.potentials.mlip", "pace_calculator", kwargs), family="pace-ase",
                        files=paths, elements=elements)
    if len(paths) == 1:
        return potential
    lines = potential.coeff_lines
    grade = [f"variable        mdrive_gamma equal f_{FIX}[1]",
             "variable        mdrive_thermo_extra index v_mdrive_gamma"]  # a column of validity.in's thermo
    return replace(potential, coeff_lines=lambda els: [*lines(els), *grade])


def _pace_graded(paths: tuple[Path, ...]) -> callable:
    """pair_style pace/extrapolation with the largest per-atom γ as v_mdrive_gamma, a thermo column (as through
    the bridge): `fix pair` asks the style for its per-atom gamma every step (LAMMPS's documented recipe)."""
    lines = _star("pace/extrapolation", f"{paths[0]} {paths[1]}")
    return lambda els: [*lines(els), "fix             mdrive_gamma all pair 1 pace/extrapolation gamma 1",
                        "compute         mdrive_gamma_max all reduce max f_mdrive_gamma",
                        "variable        mdrive_gamma equal c_mdrive_gamma_max",
                        "variable        mdrive_thermo_extra index v_mdrive_gamma"]


def pace_calculator(basis_set: str, active_set: str | None = None):
    """python-ace's calculator; with an active set it computes the extrapolation grade γ of every atom, and never
    stops or writes files of its own when γ is large (mdrive records it instead)."""
    from pyace import PyACECalculator

    calculator = PyACECalculator(basis_set, gamma_upper_bound=float("inf"))
    if active_set:
        calculator.set_active_set(active_set)
    return calculator


def _ace_elements(path: Path) -> tuple[str, ...] | None:
    """The elements a PACE file covers: .yace/.yaml list `elements: [Cu, ...]`, .ace `elements: Cu Ni`."""
    m = re.search(r"^elements:\s*(.*)$", path.read_text(errors="replace")[:4096], re.M)
    if not m:
        return None
    found = tuple(e.strip().strip("'\"") for e in re.split(r"[\s,]+", m.group(1).strip("[] ")) if e.strip())
    return found or None


def _json_elements(path: Path) -> tuple[str, ...] | None:
    # symmetrix_extract_mace writes m-<Z1>-<Z2>.json: the atomic numbers are in the file name
    from ase.data import chemical_symbols

    zs = re.findall(r"-(\d+)", path.stem)
    return tuple(chemical_symbols[int(z)] for z in zs) if zs else None
