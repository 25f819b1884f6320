"""`mdrive meltquench`: multi-stage temperature schedules and the structure they leave (docs/protocols §3).

One run per start structure and replica: inputs/meltquench.in reads the structure, then stages.in, which
mdrive writes from the schedule, sets each stage's variables and includes inputs/stage-md.in or
stage-min.in (a stage may switch potential with its own include). Validity (inputs/validity.in) halts a
run that blows up. After the run, OVITO analyses the final structure (structure_analysis). A reference
crystal relaxed with the same potential gives the excess energy.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import TypedDict

from mdrive.errors import InputError
from mdrive.params import param
from mdrive.protocol import Protocol, Study, need_two_atoms
from mdrive.protocols import schedule
from mdrive.protocols.md import MAX_TIMESTEP_PS, SEED_MAX, check_damping
from mdrive.protocols.meltquench.analysis import OUTPUTS, analyze, headline_text, write_results
from mdrive.protocols.meltquench.presets import PRESETS, preset_schedule
from mdrive.protocols.meltquench.stages import jobs
from mdrive.protocols.meltquench.start import StartSpec, generated, reference_crystal, replicas
from mdrive.protocols.schedule import Stage
from mdrive.study_kinds import Metric

__all__ = ["KIND", "QuenchParams", "analyze", "headline_text", "write_results"]

START_OPTIONS = ("element", "atoms", "density", "start", "r_min")
MAX_STEPS = 2e9  # MD steps of one run: beyond months of any potential's time, surely a unit mistake


@dataclass(frozen=True)
class QuenchParams:
    schedule: str | None = param(None, "stages, e.g. 'nvt:3000K:2ps, nvt:3000K->300K@100K/ps, min' (hold, ramp, "
                                 "rate, pressure, dt=, pot=), or a YAML file of them", str, metavar="STAGES|FILE.yaml")
    preset: str | None = param(None, "a-si: 512 Si, NpT 1400 -> 300 K at 1e12 K/s; a-c: 8000 K melt, 1000 K/ps "
                               "quench; graphitization: MACE-MP-0's multi-stage anneal", str, choices=tuple(PRESETS))
    melt_potential: str | None = param(None, "potential for the preset's melt stages (the paper used GAP there)",
                                       str, metavar="SPEC")
    anneal: float | None = param(None, "graphitization: annealing temperature (default 2000 K)", dim="temperature",
                                 above=0, max=1e5)
    timestep: float | None = param(None, "MD timestep of stages without dt= (default 1 fs, or the preset's)",
                                   dim="time", above=0, max=MAX_TIMESTEP_PS)
    tdamp: float = param(0.1, "thermostat damping (Nosé-Hoover; the paper's 0.1 ps)", dim="time", above=0)
    pdamp: float = param(1.0, "barostat damping (the paper's 1 ps)", dim="time", above=0)
    thermo_every: int = param(100, "steps between trace rows and validity checks", min=1)
    seed: int = param(12345, "seed of replica 0; replica k uses seed + k", min=1, max=SEED_MAX)
    replicas: int = param(1, "runs per start structure, spread over MPI groups", min=1, max=10000)
    cutoff: float | None = param(None, "bond cutoff for coordination (default per element: Si 2.85 Å, C 1.85 Å)",
                                 dim="length", above=0, max=10.0)
    ftol: float = param(1e-4, "minimisation force tolerance", dim="force", above=0, max=10.0)
    reference: str | None = param(None, "crystal for the excess energy (default: the element's crystal from ASE)",
                                  str, metavar="FILE")
    element: str | None = param(None, "build the start: element", str)
    atoms: int | None = param(None, "build the start: number of atoms (default 216)", int, min=2, max=20_000)
    density: float | None = param(None, "build the start: density", dim="mass_density", above=0, max=30.0)
    start: str | None = param(None, "build the start: random hard spheres or the crystal (default random)", str,
                              choices=("random", "crystal"))
    r_min: float | None = param(None, "random start: closest approach (default 2 Å)", dim="length", above=0, max=5.0)

    @cached_property
    def stages(self) -> tuple[Stage, ...]:
        if self.schedule is None and self.preset is None:
            raise InputError("give --schedule (e.g. 'nvt:3000K:2ps, nvt:3000K->300K@100K/ps, min') or --preset")
        text = self.schedule or preset_schedule(PRESETS[self.preset], self.melt_potential, self.anneal)
        return tuple(schedule.parse(text))

    @property
    def dt(self) -> float:
        """ps, for stages without their own dt"""
        return self.timestep or (PRESETS[self.preset].timestep if self.preset else 0.001)

    def check(self) -> None:
        longest = max((st.duration for st in self.stages if st.is_md), default=None)
        check_damping(self.tdamp, self.pdamp if any(st.ensemble == "npt" for st in self.stages) else None,
                      self.dt, longest)
        if self.seed + self.replicas - 1 > SEED_MAX:
            raise InputError(f"--seed {self.seed} + --replicas {self.replicas} passes {SEED_MAX}; lower --seed")
        steps = sum(st.steps(self.dt) for st in self.stages)
        if steps > MAX_STEPS:
            raise InputError(f"--schedule asks for {steps:.3g} MD steps per run, beyond {MAX_STEPS:.0e}; shorten "
                             f"the stages or check their units")

    def start_spec(self, given_structures: bool) -> StartSpec | None:
        """How to build the start structure when no STRUCTURE is given (None: structures are given)."""
        given = [o for o in START_OPTIONS if getattr(self, o) is not None]
        if given_structures:
            if given:
                raise InputError(f"--{given[0].replace('_', '-')} builds a start structure: give it or STRUCTURE "
                                 f"files, not both")
            return None
        preset = PRESETS.get(self.preset)
        if preset is None and not {"element", "density"} <= set(given):
            raise InputError("give STRUCTURE files, or build a start with --element and --density "
                             "(and --atoms, --start random|crystal)")
        base = {"element": preset.element, "atoms": preset.atoms, "density": preset.density, "start": preset.start,
                "r_min": preset.r_min} if preset else {"atoms": 216, "start": "random", "r_min": 2.0}
        spec = StartSpec(**{**base, **{o: getattr(self, o) for o in given}})
        spec.check()
        return spec


def plan(params: QuenchParams, run) -> Study:
    from mdrive import potentials, structures

    start = params.start_spec(bool(run.structures))
    try:
        import ovito  # noqa: F401  (the structure analysis needs it; fail before any run)
    except ImportError:
        raise InputError("meltquench analyses structures with OVITO: pip install 'mdrive[analysis]' "
                         "(or pip install ovito)") from None
    potential = run.load_potential("sw:Si.sw")
    stage_potentials = {spec: potentials.load(spec, run.backend)
                        for spec in dict.fromkeys(s.potential for s in params.stages if s.potential)}
    if stage_potentials and any(p.bridge for p in [potential, *stage_potentials.values()]):
        raise InputError("stages that switch potential (pot=) cannot use an ASE-bridge potential; "
                         "use a LAMMPS pair style for every stage")
    given = [structures.fit_to_cutoff(s, potential.cutoff) for s in structures.read(list(run.structures))]
    runs = replicas(given, params) if run.structures else generated(start, params)
    need_two_atoms([r.structure for r in runs], "a melt-quench")
    elements = sorted({e for r in runs for e in r.structure.elements})
    for p in [potential, *stage_potentials.values()]:
        p.check_elements(elements)
    crystal = reference_crystal(elements, params.reference)
    structs = list({r.structure.name: r.structure for r in runs}.values()) + ([crystal] if crystal else [])
    return Study(jobs(runs, potential, stage_potentials, params, crystal), potential, structs,
                 list(stage_potentials.values()),
                 {"stages": [st.text() for st in params.stages], "start": asdict(start) if start else None,
                  "reference_source": crystal.source if crystal else None})


class StructureHeadline(TypedDict, total=False):
    """One start structure's line of the headline: [mean, std] over its valid replicas."""

    replicas_valid: int
    density_g_cm3: list  # g/cm³
    cn4_fraction: list
    sp3_fraction: list
    excess_energy_per_atom: list  # eV/atom above the reference crystal
    tg_k: list  # K


class MeltQuench(Protocol):
    name = "meltquench"
    help = "melt-quench / anneal schedules and the structure they leave"
    description = (
        "Melt, quench, anneal and relax on a schedule of stages, then analyse the structure left (density, "
        "coordination, RDF, crystalline fraction, excess energy, Tg). Presets reproduce MACE-MP-0's a-Si, a-C and "
        "graphitization protocols; without STRUCTURE the start is built (random hard spheres or a crystal at "
        "--density).")
    params = QuenchParams  # its presets (PRESETS) set the schedule and the start, not field defaults
    outputs = OUTPUTS
    # per start structure its line, plus reference_crystal_energy_per_atom (eV/atom) and runs (count per verdict)
    headline = dict[str, StructureHeadline | dict[str, int] | float | None]
    metrics = (Metric("mq_density", "MQ density (g/cm³)"), Metric("mq_cn4", "MQ 4-fold"),
               Metric("mq_excess_energy", "MQ E − crystal (eV/atom)"))

    plan = staticmethod(plan)
    analyze = staticmethod(analyze)
    summarize = staticmethod(write_results)

    def scores(self, headline: Mapping, parameters: Mapping) -> dict:
        """The first start structure's replica means."""
        found = [v for v in headline.values() if isinstance(v, dict) and "replicas_valid" in v]
        if not found:
            return {}
        mean = {k: (v[0] if isinstance(v, list) else None) for k, v in found[0].items() if k != "replicas_valid"}
        return {"mq_density": mean.get("density_g_cm3"), "mq_cn4": mean.get("cn4_fraction"),
                "mq_excess_energy": mean.get("excess_energy_per_atom")}


KIND = MeltQuench()
