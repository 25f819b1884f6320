"""Adapters for the MLIP styles of source builds: MACE (three routes), NequIP, Allegro, ACE (pace).

None of these styles is in the PyPI wheel; `Potential.check_build` refuses them there with the build
that has them. The rules encoded here are the ones the style sources enforce (docs/lammps-notes §5).
"""
from __future__ import annotations

import re
from pathlib import Path

from mdrive.errors import InputError
from mdrive.potentials.base import Kokkos, Potential
from mdrive.potentials.files import find_file


def mace(spec: str, arg: str) -> Potential:
    """mace:FILE picks the route from the export's name: *-mliap_lammps.pt (ML-IAP unified),
    *.json (symmetrix), anything else TorchScript for `pair_style mace`. `?no_domain_decomposition`
    selects that pair_mace mode, valid on one rank only (mace#238, #843)."""
    name, _, option = arg.partition("?")
    path = find_file(name)
    if path.name.endswith("-mliap_lammps.pt"):
        return Potential(spec, "mace-mliap", ("mliap",),
                         lambda els: [f"pair_style mliap unified {path} 0", f"pair_coeff * * {' '.join(els)}"],
                         None, (path,), newton="on", kokkos=Kokkos("mliap/kk"))
    if path.suffix == ".json":
        return Potential(spec, "symmetrix", ("symmetrix/mace",),
                         _star("symmetrix/mace", path), _json_elements(path), (path,), newton="on",
                         atom_map=True, kokkos=Kokkos("symmetrix/mace/kk"))
    if option not in ("", "no_domain_decomposition"):
        raise InputError(f"potential {spec}: unknown option '{option}'; the only one is no_domain_decomposition")
    style = f"mace {option}".strip()
    return Potential(spec, "mace", ("mace",), _star(style, path), None, (path,), newton="on",
                     atom_map=True, multi_rank=option == "",
                     kokkos=Kokkos("mace/kk", gpu_note="pair_mace uses CUDA device 0: pin one GPU per rank"))


def nequip(spec: str, arg: str) -> Potential:
    path = _nequip_file(spec, arg)
    return Potential(spec, "nequip", ("nequip",), _star("nequip", path), None, (path,), newton="off",
                     multi_rank=False, kokkos=None)


def allegro(spec: str, arg: str) -> Potential:
    path = _nequip_file(spec, arg)
    return Potential(spec, "allegro", ("allegro",), _star("allegro", path), None, (path,), newton="on",
                     atom_map=True, kokkos=Kokkos("allegro/kk"))


def pace(spec: str, arg: str) -> Potential:
    """pace:FILE[.yace|.yaml|.ace]; pace:FILE.yaml,FILE.asi adds the extrapolation grade (pace/extrapolation)."""
    names = arg.split(",")
    paths = tuple(find_file(n) for n in names)
    elements = _yace_elements(paths[0])
    if len(paths) == 2:
        return Potential(spec, "pace/extrapolation", ("pace/extrapolation",),
                         _star("pace/extrapolation", f"{paths[0]} {paths[1]}"), elements, paths,
                         newton="on", kokkos=Kokkos("pace/extrapolation/kk", gpu_note="product basis only"))
    return Potential(spec, "pace", ("pace",), _star("pace product", paths[0]), elements, paths,
                     newton="on", kokkos=Kokkos("pace/kk", gpu_note="needs 'product' on the GPU"))


def _star(style: str, files) -> callable:
    return lambda els: [f"pair_style {style}", f"pair_coeff * * {files} {' '.join(els)}"]


def _nequip_file(spec: str, arg: str) -> Path:
    path = find_file(arg)
    if not path.name.endswith((".nequip.pt2", ".nequip.pth")):
        raise InputError(f"potential {spec}: pair_nequip_allegro takes *.nequip.pt2 (AOTInductor) or "
                         f"*.nequip.pth (TorchScript) files; compile the model with nequip-compile")
    return path


def _yace_elements(path: Path) -> tuple[str, ...] | None:
    # .yace/.yaml files list "elements: [Cu, ...]" near the top; other formats: leave coverage open
    m = re.search(r"^elements:\s*\[([^\]]*)\]", path.read_text(errors="replace")[:4096], re.M)
    return tuple(e.strip().strip("'\"") for e in m.group(1).split(",")) if m else None


def _json_elements(path: Path) -> tuple[str, ...] | None:
    # symmetrix_extract_mace writes m-<Z1>-<Z2>.json: the atomic numbers are in the file name
    from ase.data import chemical_symbols

    zs = re.findall(r"-(\d+)", path.stem)
    return tuple(chemical_symbols[int(z)] for z in zs) if zs else None
