"""Structure of one snapshot through OVITO's Python module: coordination at a bond cutoff, RDF,
crystalline fractions (diamond identification and adaptive common-neighbour analysis), density,
and a rendered PNG. OVITO is imported here only, so everything else runs without it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.units import _amu

MAX_CN = 8  # coordination numbers above this are lumped into the last bin
RDF_RANGE = 6.0  # Å, cut to half the shortest cell height for small cells
RDF_BINS = 200
# Bond cutoffs of MACE-MP-0's analyses (seed 001 §A2, §A3); other elements: 1.2 x the crystal's bond length
PAPER_CUTOFFS = {"Si": 2.85, "C": 1.85}


def default_cutoff(elements: list[str]) -> float:
    return max(PAPER_CUTOFFS.get(e) or round(1.2 * nearest_neighbour(e), 2) for e in elements)


def nearest_neighbour(symbol: str) -> float:
    """Bond length of the element's reference crystal (ASE's table), else its covalent diameter."""
    from ase.build import bulk
    from ase.neighborlist import neighbor_list

    try:
        return float(neighbor_list("d", bulk(symbol), 6.0).min())
    except (ValueError, RuntimeError):  # no crystal in ASE's table for this element
        return 2 * float(covalent_radii[atomic_numbers[symbol]])


def density(atoms: Atoms) -> float:
    """Mass density in g/cm³."""
    return float(atoms.get_masses().sum() * _amu * 1e3 / (atoms.get_volume() * 1e-24))


def analyze(atoms: Atoms, cutoff: float) -> tuple[dict, pd.DataFrame]:
    """Metrics of the snapshot and its RDF table (r, g)."""
    from ovito.modifiers import CommonNeighborAnalysisModifier, CoordinationAnalysisModifier, IdentifyDiamondModifier

    n = len(atoms)
    data = _pipeline(atoms, CoordinationAnalysisModifier(cutoff=cutoff), CommonNeighborAnalysisModifier()).compute()
    cn = np.asarray(data.particles["Coordination"])
    hist = np.bincount(np.minimum(cn, MAX_CN), minlength=MAX_CN + 1) / n
    # CNA and diamond identification both write "Structure Type": one pipeline each
    cna_other = int(np.sum(np.asarray(data.particles["Structure Type"]) == 0))
    diamond = _pipeline(atoms, IdentifyDiamondModifier()).compute()
    diamond_other = int(np.sum(np.asarray(diamond.particles["Structure Type"]) == 0))
    out = {"density_g_cm3": density(atoms), "cn_cutoff": cutoff, "cn_mean": float(cn.mean()),
           **{f"cn{k}_fraction": float(hist[k]) for k in range(MAX_CN + 1)},
           "diamond_fraction": 1.0 - diamond_other / n, "cna_crystalline_fraction": 1.0 - cna_other / n}
    if set(atoms.get_chemical_symbols()) == {"C"}:  # carbon hybridisation = coordination at 1.85 Å
        out.update(sp_fraction=float(hist[2]), sp2_fraction=float(hist[3]), sp3_fraction=float(hist[4]))
    return out, rdf(atoms)


def rdf(atoms: Atoms) -> pd.DataFrame:
    from ovito.modifiers import CoordinationAnalysisModifier

    heights = atoms.get_volume() / np.linalg.norm(np.cross(atoms.cell[[1, 2, 0]], atoms.cell[[2, 0, 1]]), axis=1)
    r_max = min(RDF_RANGE, 0.499 * heights.min())
    data = _pipeline(atoms, CoordinationAnalysisModifier(cutoff=r_max, number_of_bins=RDF_BINS)).compute()
    xy = data.tables["coordination-rdf"].xy()
    return pd.DataFrame({"r": xy[:, 0], "g": xy[:, 1]})


def render(atoms: Atoms, cutoff: float, path: Path) -> bool:
    """PNG of the snapshot, atoms coloured by coordination. Rendering needs a Vulkan driver (Debian:
    libvulkan1 and mesa-vulkan-drivers); without one, warn on stderr and return False, never fail."""
    from ovito.modifiers import ColorCodingModifier, CoordinationAnalysisModifier
    from ovito.vis import OpenGLRenderer, Viewport

    pipeline = _pipeline(atoms, CoordinationAnalysisModifier(cutoff=cutoff),
                         ColorCodingModifier(property="Coordination", start_value=2, end_value=6))
    pipeline.add_to_scene()
    try:
        viewport = Viewport(type=Viewport.Type.Perspective, camera_dir=(2, 1, -1))
        viewport.zoom_all()
        viewport.render_image(size=(640, 480), filename=str(path), renderer=OpenGLRenderer())
        return True
    except RuntimeError as err:
        print(f"mdrive: warning: no snapshot picture ({str(err).splitlines()[0]}); install libvulkan1 and "
              f"mesa-vulkan-drivers to render", file=sys.stderr)
        return False
    finally:
        pipeline.remove_from_scene()


def _pipeline(atoms: Atoms, *modifiers):
    from ovito.io.ase import ase_to_ovito
    from ovito.pipeline import Pipeline, StaticSource

    pipeline = Pipeline(source=StaticSource(data=ase_to_ovito(atoms)))
    for m in modifiers:
        pipeline.modifiers.append(m)
    return pipeline
