"""`mdrive meltquench`: multi-stage temperature schedules and the structure they leave (docs/protocols §3).

One run per start structure and replica: inputs/meltquench.in reads the structure, then stages.in, which
mdrive writes from the schedule, sets each stage's variables and includes inputs/stage-md.in or
stage-min.in (a stage may switch potential with its own include). Validity (inputs/validity.in) halts a
run that blows up. After the run, OVITO analyses the final structure (structure_analysis). A reference
crystal relaxed with the same potential gives the excess energy.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import ase.io
import numpy as np
import pandas as pd
from ase import Atoms
from ase.build import bulk

from mdrive import decks, metrics
from mdrive.errors import InputError
from mdrive.jobs import Job, read_run_log
from mdrive.manifest import write_text
from mdrive.params import param
from mdrive.potentials import Potential
from mdrive.protocol import Protocol, Study, need_two_atoms
from mdrive.protocols import schedule
from mdrive.protocols.md import MAX_TIMESTEP_PS, SEED_MAX, check_damping
from mdrive.protocols.schedule import Stage
from mdrive.structures import Structure, formula, random_packing

GPA_TO_BAR = 1e4
TRACE, RDF, FINAL_DATA, FINAL_XYZ, SNAPSHOT = "trace.csv", "rdf.csv", "final.data", "final.extxyz", "snapshot.png"
STAGES = "stages.in"
TG_MAX_SSE_RATIO = 0.5


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
    atoms: int | None = param(None, "build the start: number of atoms (default 216)", int, min=2, max=1_000_000)
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


@dataclass
class StartSpec:
    """A start structure built by mdrive when none is given."""
    element: str
    atoms: int
    density: float
    start: str
    r_min: float

    def check(self) -> None:
        from ase.data import atomic_numbers

        if self.element not in atomic_numbers:
            raise InputError(f"--element {self.element} is not a chemical element")

    def build(self, seed: int) -> Atoms:
        if self.start == "crystal":
            cell = bulk(self.element, cubic=True)
            n = max(1, round((self.atoms / len(cell)) ** (1 / 3)))
            atoms = cell.repeat(n)
        else:
            atoms = random_packing(self.element, self.atoms, self.density, self.r_min, np.random.default_rng(seed))
        return scaled_to_density(atoms, self.density)

    def name(self) -> str:
        return f"{self.element}{self.atoms}-{self.start}-{self.density:g}gcc"


def scaled_to_density(atoms: Atoms, rho: float) -> Atoms:
    from mdrive.structure_analysis import density

    out = atoms.copy()
    out.set_cell(out.cell * (density(out) / rho) ** (1 / 3), scale_atoms=True)
    return out


# --- jobs ------------------------------------------------------------------------------------------


@dataclass
class Replica:
    name: str
    structure: Structure
    replica: int
    seed: int


def replicas(structures: list[Structure], params: QuenchParams) -> list[Replica]:
    return [Replica(f"{s.name}-r{k}", s, k, params.seed + k) for s in structures for k in range(params.replicas)]


def generated(spec: StartSpec, params: QuenchParams) -> list[Replica]:
    """Random starts differ per replica (each its own packing); crystal starts share one structure."""
    if spec.start == "crystal":
        s = Structure(spec.name(), spec.build(params.seed), f"generated: {spec.start} {spec.element}")
        return replicas([s], params)
    return [Replica(f"{spec.name()}-r{k}",
                    Structure(f"{spec.name()}-r{k}", spec.build(params.seed + k),
                              f"generated: random {spec.element}, r_min {spec.r_min} Å, seed {params.seed + k}"),
                    k, params.seed + k) for k in range(params.replicas)]


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
                      f"variable        stage_press equal {(st.p_start or 0.0) * GPA_TO_BAR:g}",
                      f"variable        stage_ftol equal {params.ftol:g}",
                      "include         stage-min.in"]
    return "\n".join(lines) + "\n"


def _fix_args(st: Stage, params: QuenchParams) -> str:
    if st.ensemble == "nve":
        return "nve"
    temp = f"temp {st.t_start:g} {st.t_stop:g} {params.tdamp:g}"
    if st.ensemble == "nvt":
        return f"nvt {temp}"
    return f"npt {temp} iso {st.p_start * GPA_TO_BAR:g} {st.p_stop * GPA_TO_BAR:g} {params.pdamp:g}"


def reference_crystal(elements: list[str], path: str | None) -> Structure | None:
    """The crystal the excess energy is measured against: a given file, else the element's ASE
    reference crystal (single-element runs only; none for mixtures)."""
    if path:
        from mdrive.structures import read

        found = read([path])
        if len(found) != 1:
            raise InputError(f"--reference {path} must hold exactly one structure (holds {len(found)})")
        if set(found[0].elements) != set(elements):
            raise InputError(f"--reference {path} holds {', '.join(found[0].elements)}; the runs hold "
                             f"{', '.join(elements)}: the excess energy needs a crystal of the same elements")
        return Structure("reference-crystal", found[0].atoms, found[0].source)
    if len(elements) != 1:
        return None
    try:
        atoms = bulk(elements[0], cubic=True).repeat(2)
    except (ValueError, RuntimeError):
        return None
    return Structure("reference-crystal", atoms, f"ASE reference crystal of {elements[0]}")


# --- results: one run ------------------------------------------------------------------------------


def analyze(run_dir: Path, info: dict, error: str | None = None) -> dict:
    if info["kind"] == "crystal":
        return _analyze_crystal(run_dir, info, error)
    out = {k: info[k] for k in ("run", "structure", "replica", "seed", "n_atoms", "formula")}
    out.update(status="error", cause=None, stages_done=0, steps_done=0, steps_target=info["steps_target"])
    log, error = read_run_log(run_dir, error)
    stage_runs = log.runs[1:] if log else []  # runs[0]: validity.in's reference `run 0`
    trace = _trace(stage_runs, info)
    if len(trace):
        write_text(run_dir / TRACE, trace.to_csv(index=False))
        out["steps_done"] = int(trace["step"].max())
    out["stages_done"] = sum(r.ended == "completed" for r in stage_runs)
    bad, cause, runaway = None, None, False
    if log and log.runs and not log.runs[0].thermo.empty and len(stage_runs):
        ref = log.runs[0].thermo.iloc[0]
        rows = pd.concat([r.thermo for r in stage_runs], ignore_index=True)
        bad, cause = metrics.first_invalid(rows, ref["PotEng"] / ref["Atoms"], ref["Volume"])
        runaway = metrics.running_away(rows, ref["PotEng"] / ref["Atoms"], ref["Volume"])
    if bad is not None:
        out["status"], out["cause"] = "invalid", cause
    elif error:
        out["status"], out["cause"] = metrics.classify_error(error, runaway)
    elif any(r.halted_by == "mdrive_guard" for r in stage_runs):  # validity.in's every-step volume rule
        out["status"], out["cause"] = "invalid", metrics.VOLUME_CAUSE
    elif out["stages_done"] == len(info["stages"]) and (run_dir / FINAL_DATA).exists():
        out["status"] = "valid"
        out.update(_final_structure(run_dir, info, stage_runs))
    else:
        out["status"] = "censored"
        out["cause"] = "stopped early" if any(r.halted_by == "mdrive_stop" for r in stage_runs) else "log cut off"
    out.update(_glass_transition(trace, info))
    return out


def _trace(stage_runs, info: dict) -> pd.DataFrame:
    frames = []
    for k, (run, label) in enumerate(zip(stage_runs, info["stages"]), 1):
        t = run.thermo
        if t.empty:
            continue
        frames.append(pd.DataFrame({
            "stage": k, "label": label, "step": t["Step"], "time_ps": t.get("Time", np.nan),
            "temp": t["Temp"], "press_gpa": t["Press"] / GPA_TO_BAR, "volume": t["Volume"],
            "density_g_cm3": t["Density"], "pe_per_atom": t["PotEng"] / t["Atoms"],
            "cn_mean": t.get("c_mdrive_cnmean", np.nan)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _final_structure(run_dir: Path, info: dict, stage_runs) -> dict:
    from mdrive import structure_analysis

    atoms = read_final(run_dir / FINAL_DATA, info["elements"])
    ase.io.write(run_dir / FINAL_XYZ, atoms, format="extxyz", parallel=False)
    found, rdf = structure_analysis.analyze(atoms, info["cn_cutoff"])
    write_text(run_dir / RDF, rdf.to_csv(index=False))
    tmp = run_dir / ".snapshot.tmp.png"
    if structure_analysis.render(atoms, info["cn_cutoff"], tmp):
        tmp.replace(run_dir / SNAPSHOT)
    last = stage_runs[-1].thermo.iloc[-1]
    found["final_energy_per_atom"] = float(last["PotEng"] / last["Atoms"])
    found["final_minimised"] = info["stages"][-1].startswith("min")
    return found


def read_final(path: Path, elements: list[str]) -> Atoms:
    from ase.data import atomic_numbers

    atoms = ase.io.read(path, format="lammps-data", atom_style="atomic", units="metal",
                        Z_of_type={k + 1: atomic_numbers[e] for k, e in enumerate(elements)}, parallel=False)
    atoms.wrap()
    return atoms


def _glass_transition(trace: pd.DataFrame, info: dict) -> dict:
    """Tg from the cooling ramps: the kink of density against T under NPT, of energy under NVT."""
    empty = {"tg_k": None, "tg_from": None}
    if trace.empty:
        return empty
    cooling = [k + 1 for k, s in enumerate(info["stages"]) if _is_cooling(s)]
    rows = trace[trace["stage"].isin(cooling)]
    if rows.empty:
        return empty
    npt = all(info["stages"][k - 1].startswith("npt") for k in cooling)
    column = "density_g_cm3" if npt else "pe_per_atom"
    fit = metrics.glass_transition(rows["temp"], rows[column])
    if fit is None:
        return empty
    # a kink counts only when two lines leave at most half the squared residual of one [I]
    return {"tg_k": round(fit["tg"], 1) if fit["sse_ratio"] <= TG_MAX_SSE_RATIO else None,
            "tg_from": "density" if npt else "energy", "tg_fit_sse_ratio": round(fit["sse_ratio"], 4)}


def _is_cooling(stage_text: str) -> bool:
    from mdrive.protocols.schedule import parse_stage

    st = parse_stage(stage_text, 0)
    return st.t_start is not None and st.t_stop < st.t_start


def _analyze_crystal(run_dir: Path, info: dict, error: str | None) -> dict:
    out = {"run": info["run"], "kind": "crystal", "status": "error", "cause": error, "n_atoms": info["n_atoms"]}
    log, _ = read_run_log(run_dir)
    if log and not error and not log.error and log.runs and not log.runs[-1].thermo.empty:
        last = log.runs[-1].thermo.iloc[-1]
        out.update(status="valid", cause=None, energy_per_atom=float(last["PotEng"] / last["Atoms"]),
                   density_g_cm3=float(last["Density"]), volume_per_atom=float(last["Volume"] / last["Atoms"]))
    elif log and log.error:
        out["cause"] = metrics.classify_error(log.error)[1]
    return out


# --- results: all runs -----------------------------------------------------------------------------

METRIC_COLUMNS = ["density_g_cm3", "cn_mean", "cn2_fraction", "cn3_fraction", "cn4_fraction", "cn5_fraction",
                  "cn6_fraction", "sp_fraction", "sp2_fraction", "sp3_fraction", "diamond_fraction",
                  "cna_crystalline_fraction", "final_energy_per_atom", "excess_energy_per_atom", "tg_k"]
ID_COLUMNS = ["run", "structure", "replica", "seed", "status", "cause", "n_atoms", "formula", "cn_cutoff"]


def structure_table(rows: list[dict]) -> pd.DataFrame:
    """One row per replica, then per start structure group the mean and the standard deviation."""
    crystal = next((r for r in rows if r.get("kind") == "crystal"), None)
    quench = pd.DataFrame([r for r in rows if r.get("kind") != "crystal"])
    if quench.empty:
        return pd.DataFrame(columns=ID_COLUMNS + METRIC_COLUMNS)
    e_ref = crystal.get("energy_per_atom") if crystal else None
    minimised = quench.get("final_minimised", pd.Series(False, index=quench.index)).fillna(False).astype(bool)
    final = pd.to_numeric(quench.get("final_energy_per_atom"), errors="coerce")
    quench["excess_energy_per_atom"] = np.where(minimised & (e_ref is not None), final - (e_ref or 0), np.nan)
    quench["group"] = quench["run"].str.replace(r"-r\d+$", "", regex=True)
    for col in ID_COLUMNS:  # runs that never reached the analysis (censored, failed) lack some of these
        if col not in quench:
            quench[col] = None
    columns = ID_COLUMNS + [c for c in METRIC_COLUMNS if c in quench]
    table = quench.sort_values(["group", "replica"])[["group"] + columns]
    valid = table[table["status"] == "valid"]
    stats = []
    for name, g in valid.groupby("group", sort=True):
        for stat in ("mean", "std"):
            values = g[[c for c in METRIC_COLUMNS if c in g]].apply(pd.to_numeric, errors="coerce")
            row = {"group": name, "run": f"{name} ({stat})", "structure": name, "status": f"{len(g)} valid",
                   **(values.mean() if stat == "mean" else values.std(ddof=1 if len(g) > 1 else 0)).to_dict()}
            stats.append(row)
    table = pd.concat([table, pd.DataFrame(stats)], ignore_index=True).drop(columns="group")
    return table.astype({c: "Int64" for c in ("replica", "seed", "n_atoms")})


def write_results(out: Path, rows: list[dict], params: QuenchParams) -> tuple[str, dict]:
    from mdrive import plots
    from mdrive.manifest import atomic_path

    table = structure_table(rows)
    write_text(out / "structure.csv", table.to_csv(index=False))
    traces = [pd.read_csv(p).assign(run=p.parent.name) for p in sorted((out / "runs").glob(f"*/{TRACE}"))]
    if traces:
        trace = pd.concat(traces, ignore_index=True)
        write_text(out / "stages.csv", trace.to_csv(index=False))
        with atomic_path(out / "traces.png") as tmp:
            plots.quench_traces(trace, tmp)
    replicas_done = table[table["run"].isin([r["run"] for r in rows if r.get("status") == "valid"])]
    if not replicas_done.empty:
        with atomic_path(out / "coordination.png") as tmp:
            plots.coordination(replicas_done, tmp)
    crystal = next((r for r in rows if r.get("kind") == "crystal"), None)
    head = headline(table, crystal)
    return headline_text(head), head


def headline(table: pd.DataFrame, crystal: dict | None) -> dict:
    out = {"reference_crystal_energy_per_atom": crystal.get("energy_per_atom") if crystal else None}
    for _, row in table[table["run"].str.endswith("(mean)")].iterrows():
        std = table[table["run"] == row["run"].replace("(mean)", "(std)")].iloc[0]
        out[row["structure"]] = {"replicas_valid": int(row["status"].split()[0]), **{
            c: [_round(row[c]), _round(std[c])] for c in ("density_g_cm3", "cn4_fraction", "sp3_fraction",
                                                          "excess_energy_per_atom", "tg_k") if c in row}}
    quench = table[~table["run"].str.contains(r"\((?:mean|std)\)$")]
    out["runs"] = {s: int(n) for s, n in quench["status"].value_counts().items()}
    return out


def headline_text(head: dict) -> str:
    lines = []
    for name, h in head.items():
        if not isinstance(h, dict) or "replicas_valid" not in h:
            continue
        parts = [f"{name} ({h['replicas_valid']} valid replicas):"]
        labels = {"density_g_cm3": ("density", "g/cm³"), "cn4_fraction": ("4-fold", ""),
                  "sp3_fraction": ("sp3", ""), "excess_energy_per_atom": ("excess E", "eV/atom"),
                  "tg_k": ("Tg", "K")}
        for key, (label, unit) in labels.items():
            mean, std = h.get(key, [None, None])
            if mean is not None:
                spread = f" ± {std:.2g}" if std is not None else ""
                parts.append(f"{label} {mean:.4g}{spread} {unit}".rstrip())
        lines.append(" ".join(parts[:1]) + " " + ", ".join(parts[1:]))
    runs = ", ".join(f"{n} {s}" for s, n in head.get("runs", {}).items())
    return "\n".join(lines + [f"meltquench runs: {runs}"])


def _round(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(value) else round(value, 5)


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
    runs = replicas(structures.read(list(run.structures)), params) if run.structures else generated(start, params)
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


PROTOCOL = Protocol(
    "meltquench", "melt-quench / anneal schedules and the structure they leave",
    "Melt, quench, anneal and relax on a schedule of stages, then analyse the structure left (density, "
    "coordination, RDF, crystalline fraction, excess energy, Tg). Presets reproduce MACE-MP-0's a-Si, a-C and "
    "graphitization protocols; without STRUCTURE the start is built (random hard spheres or a crystal at "
    "--density).", QuenchParams, plan, analyze, write_results)

