"""A foundation model with real weights in real MD ramps: mdrive against MLIP Arena's own MD task, side by side in
one run on this machine's 2 cores.

SevenNet-0 (7net-0, the weights sevenn's wheel ships, float32), the same 8 random mixtures of Cu, Ni, Al and Fe
of 32-64 atoms, NVT (300 -> 3000 K) and NPT (300 -> 3000 K, 0 -> 500 GPa) ramps of STEPS steps of 2 fs,
Nose-Hoover with ttime 25 fs and Arena's pfactor, as Arena's stability flow sets them:
- MLIP Arena 0.2.0: `mlip_arena.tasks.md.run` called directly (its function, not the Prefect flow) with
  sevenn's `SevenNetCalculator`, one process per structure and ensemble, two at a time, in its own venv
  (.venv-arena: make bench installs it, with sevenn);
- mdrive: `mpirun -np 2 python -m mdrive ramp --ensemble both` with 7net-0 through mdrive's plugin of sevenn's
  pair_e3gnn (MODE=plugin) or through the ASE bridge with the same calculator (MODE=ase).
Also the model-only rate (energy+forces+stress per call of SevenNetCalculator, one process on each core at
once) as the ceiling per core. Survival: mdrive's from its validity rule (steps_valid); Arena's run has no
validity rule, so its survival is the last trajectory frame written before it ended or raised.
Arena's stability flow gives each NPT run 600 s (`timeout_seconds=600`); the same limit applies here, to every
Arena run: a run past it counts with the last frame it wrote. (An NPT ramp Arena keeps integrating after the
cell exploded can otherwise run for tens of minutes: rm0-32 at 100 steps reached V = 8e74 V0 at step 49.)
CHGNet 0.3.0 (MODEL=chgnet) runs the same way with CHGNetCalculator in both tools (mdrive's bridge).
Usage: python bench/foundation_md.py [STEPS] [plugin|ase] [nvt|npt|both] [7net-0|chgnet]
(bench/run_all.py runs the variants it names, e.g. foundation_chgnet, and keeps each one's numbers.)
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from arena_md import ARENA_PY, BIN, ENV, on_both_cores  # noqa: E402

SIZES = (32, 36, 40, 44, 48, 54, 58, 64)
ELEMENTS = ["Cu", "Ni", "Al", "Fe"]
# the same calculator in both tools: (mdrive's spec, its import and constructor in the workers)
MODELS = {
    "7net-0": ("sevennet:7net-0", "from sevenn.calculator import SevenNetCalculator",
               'SevenNetCalculator("7net-0", device="cpu")'),
    "chgnet": ("chgnet:0.3.0", "from chgnet.model import CHGNet\nfrom chgnet.model.dynamics import CHGNetCalculator",
               'CHGNetCalculator(model=CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False), '
               'use_device="cpu")'),
}
ARENA_TIMEOUT_S = 600  # Arena's stability flow: MD.with_options(timeout_seconds=600) for its NPT task

ARENA_WORKER = r'''
import json, sys, time, warnings
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
import torch
torch.set_num_threads(1)
import ase.io
from ase import units
IMPORT
from mlip_arena.tasks.md import run
structure, ensemble, steps, traj = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
atoms = ase.io.read(structure)
calc = CALCULATOR
kwargs = dict(ttime=25 * units.fs)
if ensemble == "npt":
    kwargs["pfactor"] = ((75 * units.fs) ** 2) * 1e2 * units.GPa
t1 = time.perf_counter()
error = None
import signal
def stop(*_):
    raise TimeoutError("Arena's 600 s task limit")
signal.signal(signal.SIGALRM, stop)
signal.alarm(int(sys.argv[5]))
try:
    run.fn(atoms, calc, ensemble=ensemble, dynamics="nose-hoover", time_step=2.0, total_time=2.0 * steps,
           temperature=[300.0, 3000.0], pressure=[0.0, 500 * units.GPa] if ensemble == "npt" else None,
           dynamics_kwargs=kwargs, velocity_seed=12345, traj_file=traj, traj_interval=10, restart=False)
except Exception as err:
    error = f"{type(err).__name__}: {err}"[:200]
t2 = time.perf_counter()
frames = ase.io.read(traj, index=":")
last = max((f.info.get("step", 0) for f in frames), default=0)
print(json.dumps({"survival_step": int(last), "error": error, "md_s": t2 - t1, "wall_s": t2 - t0}))
'''

CEILING_WORKER = r'''
import json, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, sys.argv[2])
from mdrive.runtime import keep_freed_memory
keep_freed_memory()
import ase.io, torch
torch.set_num_threads(1)
IMPORT
atoms = ase.io.read(sys.argv[1])
atoms.calc = CALCULATOR
calls = int(sys.argv[3])
atoms.get_potential_energy()
t = time.perf_counter()
for k in range(calls):
    atoms.rattle(1e-3, seed=k)
    atoms.get_forces(); atoms.get_stress()
print(json.dumps(calls / (time.perf_counter() - t)))
'''


def structures(folder: Path) -> list[Path]:
    import ase.io

    from mdrive.protocols.mixtures import generate

    folder.mkdir()
    files = []
    for k, n in enumerate(SIZES):
        s = generate(ELEMENTS, 1, n, seed=100 + k)[0]
        files.append(folder / f"rm{k}-{n}.extxyz")
        ase.io.write(files[-1], s.atoms, parallel=False)
    return files


def worker(source: str, model: str) -> str:
    _, imports, calculator = MODELS[model]
    return source.replace("IMPORT", imports).replace("CALCULATOR", calculator)


def arena(files: list[Path], steps: int, work: Path, ensembles: tuple[str, ...], model: str) -> dict:
    jobs = [(f, e) for e in ensembles for f in files]
    worker_py = work / "arena_worker.py"
    worker_py.write_text(worker(ARENA_WORKER, model))
    from concurrent.futures import ThreadPoolExecutor

    def one(job):
        f, ensemble = job
        traj = work / f"{f.stem}-{ensemble}.traj"
        p = subprocess.run([str(ARENA_PY), str(worker_py), str(f), ensemble, str(steps), str(traj), str(ARENA_TIMEOUT_S)],
                           capture_output=True, text=True, env=ENV, cwd=work)
        if p.returncode:
            return {"run": f"{f.stem}-{ensemble}", "survival_step": 0, "error": p.stderr[-300:], "md_s": 0}
        return {"run": f"{f.stem}-{ensemble}", **json.loads(p.stdout.strip().splitlines()[-1])}

    t = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(one, jobs))
    return {"wall_s": round(time.perf_counter() - t, 1), "runs": runs}


def mdrive(folder: Path, steps: int, mode: str, out: Path, ensemble: str, model: str) -> dict:
    from mdrive.logs import read_log

    spec = MODELS[model][0]
    backend = ["--backend", mode] if spec.startswith("sevennet") else []  # CHGNet has the bridge only
    cmd = [str(BIN / "mpirun"), "-np", "2", sys.executable, "-m", "mdrive", "ramp", str(folder), "--potential",
           spec, *backend, "--ensemble", ensemble, "--duration", f"{steps * 2}fs", "--out", str(out)]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(p.stderr[-2000:])
    runs = []
    for m in sorted(out.glob("runs/*/metrics.json")):
        metrics = json.loads(m.read_text())
        log = read_log(m.with_name("log.lammps"))
        last = log.runs[-1] if log.runs else None
        rate = last.performance.get("timesteps/s") if last and last.performance else None
        # the model's share of LAMMPS's loop: Pair for the plugin, Modify (fix external's callback) for the bridge
        shares = last.timing["total"].to_dict() if last is not None and last.timing is not None else {}
        runs.append({"run": m.parent.name, "status": metrics["status"], "cause": metrics["cause"],
                     "survival_step": metrics["steps_valid"], "steps_per_s": rate,
                     "pair_percent": shares.get("Pair"), "modify_percent": shares.get("Modify")})
    return {"wall_s": round(wall, 1), "runs": runs, "headline": json.loads((out / "manifest.json").read_text())["headline"]}


def main(steps: int = 200, mode: str = "plugin", ensemble: str = "nvt", model: str = "7net-0") -> dict:
    from mdrive import plugins

    if not ARENA_PY.exists():
        return {"skipped": "no .venv-arena (make bench installs it)"}
    if mode == "plugin" and plugins.library("e3gnn") is None:
        plugins.build("e3gnn")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = structures(tmp / "set")
        rates = on_both_cores(Path(sys.executable), worker(CEILING_WORKER, model), [str(Path(__file__).resolve().parents[1]), "20"],
                              files, tmp, ENV)
        ceiling = sum(rates) / len(rates)
        ensembles = ("nvt", "npt") if ensemble == "both" else (ensemble,)
        result = {"steps": steps, "model": model, "spec": MODELS[model][0], "mode": mode, "ensembles": ensembles, "sizes": SIZES, "model_only_both_cores_calls_per_s": round(ceiling, 3),
                  "model_only_per_structure": [round(r, 3) for r in rates],
                  "mdrive": mdrive(tmp / "set", steps, mode, tmp / "out", ensemble, model),
                  "arena": arena(files, steps, tmp, ensembles, model)}
    md_rates = [r["steps_per_s"] for r in result["mdrive"]["runs"] if r["steps_per_s"]]
    per_size = {f"rm{k}-{n}": rates[k] for k, n in enumerate(SIZES)}
    fractions = [r["steps_per_s"] / per_size[r["run"].rsplit("-", 1)[0]] for r in result["mdrive"]["runs"]
                 if r["steps_per_s"] and r["survival_step"] == steps]
    result["mdrive_md_fraction_of_model_only"] = round(sum(fractions) / len(fractions), 3) if fractions else None
    result["mdrive_mean_md_steps_per_s"] = round(sum(md_rates) / len(md_rates), 3) if md_rates else None
    result["arena_wall_over_mdrive_wall"] = round(result["arena"]["wall_s"] / result["mdrive"]["wall_s"], 3)
    # runs that fail early end early in mdrive (its validity rule) but not in Arena (none): compare steps/s too
    for tool in ("mdrive", "arena"):
        r = result[tool]
        r["steps_run"] = sum(x["survival_step"] for x in r["runs"])
        r["steps_per_s"] = round(r["steps_run"] / r["wall_s"], 3)
    result["mdrive_over_arena_steps_per_s"] = round(result["mdrive"]["steps_per_s"] / result["arena"]["steps_per_s"], 3)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(*(int(sys.argv[1]),) if len(sys.argv) > 1 else (), *sys.argv[2:5])
