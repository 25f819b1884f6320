"""The papers' melt-quench protocols: schedule, timestep and start structure (docs/protocols §3)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """A paper's protocol: its schedule ({melt}: the stages a --melt-potential takes over; {anneal}: the
    annealing temperature) and how its start structure is built. Values tagged [I] in docs/protocols."""
    schedule: str
    timestep: float  # ps
    element: str
    atoms: int
    density: float  # g/cm³
    start: str  # random (hard spheres, r_min apart) or crystal (the element's crystal, scaled to density)
    r_min: float = 2.0  # Å, random starts
    anneal: float | None = None  # K


PRESETS = {
    # MACE-MP-0 §A2: 512 Si, random hard spheres annealed 10 ps at 1400 K (with Si-GAP-18 in the paper),
    # NpT Nosé–Hoover quench 1400 -> 300 K at 1e12 K/s, 1 fs; relaxed for the excess energy
    "a-si": Preset("npt:1400K:10ps:pot={melt}, npt:1400K->300K@1K/ps, min:0GPa", 0.001, "Si", 512, 2.33,
                   "random", r_min=2.0),
    # §A3: diamond at the target density, NVT 8000 K for 3 ps, quench at 1000 K/ps, then minimised;
    # atoms and timestep are not stated (216 atoms, 0.5 fs [I])
    "a-c": Preset("nvt:8000K:3ps, nvt:8000K->300K@1000K/ps, min", 0.0005, "C", 216, 3.0, "crystal"),
    # §A3 graphitization: stage I with another potential (C-GAP-17 in the paper), then the anneal
    "graphitization": Preset(
        "nvt:9000K:40ps:pot={melt}, nvt:9000K->5500K:40ps:pot={melt}, nvt:5500K->300K:10ps:pot={melt}, "
        "nvt:300K:50ps:pot={melt}, nvt:300K->{anneal}K:10ps:pot={melt}, nvt:{anneal}K:350ps",
        0.001, "C", 4096, 1.5, "random", r_min=1.0, anneal=2000.0),
}


def preset_schedule(preset: Preset, melt_potential: str | None, anneal: float | None) -> str:
    text = preset.schedule
    if "{anneal}" in text:
        text = text.replace("{anneal}", f"{anneal or preset.anneal:g}")
    return text.replace("{melt}", melt_potential) if melt_potential else text.replace(":pot={melt}", "")
