"""Ramp throughput against MLIP Arena's own MD task, side by side on this machine's 2 cores.

The same 2-layer MACE (64x0e+64x1o, max_ell 3, random weights, float64), the same 8 Cu–Ni random mixtures of
500 atoms, NVT 300 -> 3000 K, 2 fs, STEPS steps, thermo/trajectory every 10 steps:
- MLIP Arena 0.2.0: `mlip_arena.tasks.md.run` called directly (its function, not the Prefect flow) with
  mace-torch's ASE calculator, one process per structure, two at a time (as its Dask set-up runs them);
  in its own venv (.venv-arena: pip install torch==2.13.0, then mlip-arena mace-torch==0.3.16);
- mdrive: `mpirun -np 2 python -m mdrive ramp --ranks-per-run 1` with the LAMMPS export of the model through
  mdrive's pair_style mace plugin (no_domain_decomposition).
Also the model-only rate (energy+forces+stress per call, mace-torch's ASE calculator, STEPS calls on each
of the same structures) as the ceiling per core, with one process on each core at once (the load both
tools run under), twice: with glibc's default malloc (what Arena runs with) and with the malloc setting
every mdrive process makes (runtime.keep_freed_memory), which mdrive's fraction is taken against. mdrive's
rate is LAMMPS's timesteps/s (its loop time leaves out the set-up force call); Arena's is steps over the
time of its MD function (set-up force call included).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
ARENA_PY = ROOT / ".venv-arena" / "bin" / "python"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
STEPS = 10
STRUCTURES = 8

ARENA_WORKER = r'''
import json, sys, time
t0 = time.perf_counter()
import torch
torch.set_num_threads(1)
import ase.io
from mace.calculators import MACECalculator
from mlip_arena.tasks.md import run
structure, model, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
atoms = ase.io.read(structure)
calc = MACECalculator(model_paths=model, default_dtype="float64", device="cpu")
t1 = time.perf_counter()
out = run.fn(atoms, calc, ensemble="nvt", time_step=2.0, total_time=2.0 * steps, temperature=[300.0, 3000.0],
             velocity_seed=12345, traj_file=None, restart=False)
t2 = time.perf_counter()
energy = out["atoms"].get_potential_energy()
print(json.dumps({"steps": out["n_steps"], "md_s": t2 - t1, "wall_s": t2 - t0, "finite": bool(energy == energy)}))
'''


CEILING_WORKER = r'''
import json, sys
sys.path.insert(0, sys.argv[3])  # argv: structure, model, bench folder, evaluations
from mdrive.runtime import keep_freed_memory
keep_freed_memory()  # does nothing under MDRIVE_MALLOC=default
import mace  # noqa: F401
import ase.io, torch
torch.set_num_threads(1)
from mace.calculators import MACECalculator
from mace_bridge import model_only
calc = MACECalculator(model_paths=sys.argv[2], default_dtype="float64", device="cpu")
print(json.dumps(model_only(calc, ase.io.read(sys.argv[1]), steps=int(sys.argv[4]))))
'''


def on_both_cores(python: Path, source: str, args: list[str], files: list[Path], workdir: Path,
                  env: dict) -> list:
    """Run the worker `source` once per structure, two processes at a time (one per core): its last stdout
    line, as JSON, for each structure in order."""
    worker = workdir / "worker.py"
    worker.write_text(source)

    def one(path: Path):
        proc = subprocess.run([str(python), str(worker), str(path), *args], capture_output=True, text=True,
                              env=env, cwd=workdir)
        if proc.returncode:
            raise SystemExit(proc.stderr[-2000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, files))


def both_cores_ceiling(model: Path, files: list[Path], workdir: Path, malloc: str) -> float:
    """Model-only evaluations/s per process, averaged over the same structures the MD runs on, STEPS
    evaluations each after a warm-up call, one process on each core at the same time."""
    rates = on_both_cores(Path(sys.executable), CEILING_WORKER, [str(model), str(Path(__file__).parent), str(STEPS)],
                          files, workdir, {**ENV, "MDRIVE_MALLOC": malloc})
    return sum(rates) / len(rates)


def arena(model: Path, files: list[Path], workdir: Path) -> dict:
    t = time.perf_counter()
    runs = on_both_cores(ARENA_PY, ARENA_WORKER, [str(model), str(STEPS)], files, workdir, ENV)
    wall = time.perf_counter() - t
    steps = sum(r["steps"] for r in runs)
    return {"wall_s": round(wall, 1), "steps": steps, "steps_per_s": round(steps / wall, 4),
            "md_steps_per_s_per_run": round(sum(r["steps"] / r["md_s"] for r in runs) / len(runs), 4),
            "valid": sum(r["finite"] for r in runs), "runs": len(runs)}


def mdrive(export: Path, folder: Path, out: Path) -> dict:
    from mdrive.logs import read_log

    cmd = [str(BIN / "mpirun"), "-np", "2", sys.executable, "-m", "mdrive", "ramp", str(folder), "--potential",
           f"mace:{export}?no_domain_decomposition", "--backend", "plugin", "--ensemble", "nvt",
           "--duration", str(STEPS * 2 / 1000), "--t-stop", "3000", "--ranks-per-run", "1", "--out", str(out)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(proc.stderr[-2000:])
    metrics = [json.loads(p.read_text()) for p in out.glob("runs/*/metrics.json")]
    rates = [read_log(p).runs[-1].performance["timesteps/s"] for p in out.glob("runs/*/log.lammps")]
    steps = sum(m["steps_valid"] for m in metrics)
    return {"wall_s": round(wall, 1), "steps": steps, "steps_per_s": round(steps / wall, 4),
            "md_steps_per_s_per_run": round(sum(rates) / len(rates), 4),
            "valid": sum(m["status"] == "valid" for m in metrics), "runs": len(metrics)}


def main() -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import ase.io
    import mace  # noqa: F401  (before e3nn: it sets the torch.load flag e3nn's constants need)
    from helpers import tiny_mace

    from mdrive import plugins
    from mdrive.protocols.mixtures import generate

    if not ARENA_PY.exists():
        return {"skipped": "no .venv-arena (pip install torch==2.13.0, then mlip-arena mace-torch==0.3.16)"}
    if plugins.library() is None:
        plugins.build()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = tiny_mace(tmp / "bench.model", channels=64, max_ell=3)
        subprocess.run([str(BIN / "mace_create_lammps_model"), str(model), "--dtype", "float64"], check=True,
                       capture_output=True, cwd=tmp)
        export = model.with_name(model.name + "-lammps.pt")
        folder = tmp / "set"
        folder.mkdir()
        files = []
        for s in generate(["Cu", "Ni"], STRUCTURES, 500, seed=7):
            files.append(folder / f"{s.name}.extxyz")
            ase.io.write(files[-1], s.atoms, parallel=False)
        ceiling = {malloc: both_cores_ceiling(model, files, tmp, malloc) for malloc in ("keep", "default")}
        result = {"model_only_both_cores_steps_per_s": round(ceiling["keep"], 4),
                  "model_only_both_cores_default_malloc_steps_per_s": round(ceiling["default"], 4),
                  "steps_per_run": STEPS, "arena": arena(model, files, tmp), "mdrive": mdrive(export, folder, tmp / "out")}
    for tool in ("arena", "mdrive"):
        r = result[tool]
        r["md_fraction_of_model_only"] = round(r["md_steps_per_s_per_run"] / ceiling["keep"], 3)
        r["md_fraction_of_default_malloc_model_only"] = round(r["md_steps_per_s_per_run"] / ceiling["default"], 3)
    result["mdrive_over_arena"] = round(result["mdrive"]["steps_per_s"] / result["arena"]["steps_per_s"], 3)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
