"""One job per replica: stages.in written from the schedule, each stage's variables and the include of
inputs/stage-md.in or stage-min.in (a stage may switch potential with its own include)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from mdrive import decks, units
from mdrive.jobs import Job
from mdrive.potentials import Potential
from mdrive.protocols.meltquench.start import Replica
from mdrive.protocols.schedule import Stage
from mdrive.structures import Structure, formula

if TYPE_CHECKING:  # annotations only: the params module imports this one
    from mdrive.protocols.meltquench import QuenchParams


STAGES = "stages.in"


def jobs(runs: list[Replica], potential: Potential, stage_potentials: dict[str, Potential],
         params: QuenchParams, crystal: Structure | None) -> list[Job]:
    out = []
    for r in runs:
        s = r.structure
        elements = s.elements
        cutoff = params.cutoff or _default_cutoff(elements)
        t_first = next((st.t_start for st in params.stages if st.t_start is not None), 300.0)
        variables = {"seed": r.seed, "t_first": t_first, "cn_cutoff": cutoff, "thermo_every": params.thermo_every}
        files = {STAGES: stages_text(params, stage_potentials)}
        files.update({_potential_file(k): decks.potential_text(p, elements)
                      for k, p in enumerate(stage_potentials.values())})
        steps = sum(st.steps(params.dt) for st in params.stages)
        info = {"protocol": "meltquench", "kind": "quench", "run": r.name, "structure": s.name,
                "source": s.source, "replica": r.replica, "seed": r.seed, "n_atoms": len(s.atoms),
                "formula": formula(s.atoms), "elements": elements, "cn_cutoff": cutoff,
                "stages": [st.text() for st in params.stages], "steps_target": steps,
                "final_potential": params.stages[-1].potential or potential.spec}
        compose = decks.composer("meltquench.in", variables, potential=potential, structure=s, files=files)
        out.append(Job(r.name, compose, info,
                       cost=len(s.atoms) * max(steps, 1), worker=potential.worker_setup(elements),
                       templates=("meltquench.in", "stage-md.in", "stage-min.in")))
    if crystal is not None:
        last = stage_potentials.get(params.stages[-1].potential, potential)
        info = {"protocol": "meltquench", "kind": "crystal", "run": crystal.name, "structure": crystal.name,
                "n_atoms": len(crystal.atoms), "formula": formula(crystal.atoms), "potential": last.spec}
        out.append(Job(crystal.name, decks.composer("crystal.in", {}, potential=last, structure=crystal), info,
                       cost=len(crystal.atoms) * 100, worker=last.worker_setup(crystal.elements),
                       templates=("crystal.in",)))
    return out


def _default_cutoff(elements: list[str]) -> float:
    from mdrive.structure_analysis import default_cutoff

    return default_cutoff(elements)


def _potential_file(k: int) -> str:
    return f"potential-{k + 2}.in"


def stages_text(params: QuenchParams, stage_potentials: dict[str, Potential]) -> str:
    """stages.in: per stage, its variables and the include of stage-md.in or stage-min.in."""
    files = {spec: _potential_file(k) for k, spec in enumerate(stage_potentials)}
    lines = ["# written by mdrive meltquench: one block per stage of the schedule; edit to change it"]
    current = None
    for k, st in enumerate(params.stages, 1):
        dt = st.dt or params.dt
        lines += ["", f"# stage {k}: {st.text()}" + (f" ({st.steps(params.dt)} steps of {dt * 1000:g} fs)"
                                                     if st.is_md else "")]
        if st.potential != current:
            lines.append(f"include         {files[st.potential] if st.potential else '${potential}'}")
            current = st.potential
        if st.is_md:
            lines += [f"variable        stage_dt equal {dt:g}",
                      f"variable        stage_steps equal {st.steps(params.dt)}",
                      f'variable        stage_fix string "{_fix_args(st, params)}"',
                      "include         stage-md.in"]
        else:
            box = st.p_start is not None
            lines += [f"variable        stage_box string {'iso' if box else 'none'}",
                      f"variable        stage_press equal {units.to_lammps(st.p_start or 0.0, 'pressure'):g}",
                      f"variable        stage_ftol equal {params.ftol:g}",
                      "include         stage-min.in"]
    return "\n".join(lines) + "\n"


def _fix_args(st: Stage, params: QuenchParams) -> str:
    if st.ensemble == "nve":
        return "nve"
    temp = f"temp {st.t_start:g} {st.t_stop:g} {params.tdamp:g}"
    if st.ensemble == "nvt":
        return f"nvt {temp}"
    bar = (units.to_lammps(p, "pressure") for p in (st.p_start, st.p_stop))
    return f"npt {temp} iso {next(bar):g} {next(bar):g} {params.pdamp:g}"
