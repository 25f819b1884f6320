"""Crash-proof ensembles (mdrive.isolation): a run that segfaults, aborts or exhausts its memory budget is
recorded and costs no other run; a collapsing cell halts before its memory explodes. Real LAMMPS, mpirun -np 2,
a subprocess timeout as the watchdog."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import ENV, ROOT, TRUSTED, copper, mdrive, structure_set, write_structures

WATCHDOG_S = 300
FAULT = ROOT / "tests" / "fault.py"
# which planted structure (by its atom count) breaks how: a signal sent to the run's own process from
# inside the deck, as a crash inside LAMMPS would, and a replicate that allocates without bound
PLANTED = {107: "SIGSEGV", 106: "SIGABRT", 105: "memory"}


def planted_potential(folder):
    """Lennard-Jones Cu (Halicioglu & Pound 1975) whose include breaks the runs of the planted structures."""
    plants = [f'if "$(atoms) == {n}" then "shell {FAULT} {kind}"' for n, kind in PLANTED.items() if kind != "memory"]
    plants.append('if "$(atoms) == 105" then "replicate 60 60 60"')  # ~23 M atoms: GBs of arrays
    spec = folder / "planted.yaml"
    lines = "\n".join(f"  - '{p}'" for p in plants)
    spec.write_text(f"pair_style: lj/cut 6.0\npairs:\n  Cu-Cu: 0.4093 2.338\nelements: [Cu]\ncommands:\n{lines}\n")
    return spec


def planted_set(folder):
    planted = {}
    for n in PLANTED:
        atoms = copper()
        del atoms[list(range(108 - n))]
        planted[f"planted{n}"] = atoms
    return structure_set(folder, 9, planted)


def mtimes(out):
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}


@pytest.mark.mpi
@pytest.mark.parametrize("ranks_per_run", ["1", "2"])
def test_planted_crashes_cost_no_other_run_and_resume_reruns_nothing(tmp_path, ranks_per_run):
    src, potential, out = planted_set(tmp_path), planted_potential(tmp_path), tmp_path / "out"
    args = ("ramp", src, "--potential", potential, "--ensemble", "nvt", "--duration", "0.4",
            "--ranks-per-run", ranks_per_run, "--memory-per-run", "1GB", "--out", out)
    r = mdrive(*args, np=2, timeout=WATCHDOG_S, env=TRUSTED)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out / "summary.csv").set_index("structure")
    assert len(table) == 12
    good = table[table.index.str.startswith("good")]
    assert (good["status"] == "valid").all() and (good["steps_valid"] == good["steps_target"]).all()
    for n, kind in PLANTED.items():
        row = table.loc[f"planted{n}"]
        assert row["status"] == "error" and row["steps_valid"] == 0, row
        expected = "memory budget exceeded (1.0 GB)" if kind == "memory" else f"crashed: {kind}"
        assert row["cause"].startswith(expected), row["cause"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["finished"] and manifest["headline"]["nvt"]["valid"] == 9
    assert manifest["memory_per_run_bytes"] == 10 ** 9
    assert "NVT: 75.0 % of scheduled timesteps completed" in r.stdout
    before = mtimes(out)
    again = mdrive(*args, "--resume", np=2, timeout=WATCHDOG_S, env=TRUSTED)
    assert again.returncode == 0, again.stderr
    assert mtimes(out) == before and len(before) == 12  # crash verdicts are final: nothing ran again


def test_collapsing_cell_halts_before_its_memory_explodes_and_spares_the_next_runs(tmp_path):
    """W SNAP under Arena's 0 -> 500 GPa ramp: a 16-atom cell collapses within 0.3 ps. The every-step volume
    rule halts it (LAMMPS alone allocates tens of GB here), the verdict is `invalid` with steps_valid from
    the log's rows, and the NVT runs that follow on the same rank are valid."""
    from ase.build import bulk

    frames = []
    for k in range(2):
        atoms = bulk("W", "bcc", a=3.16, cubic=True).repeat(2)
        atoms.rattle(0.05, seed=k)
        frames.append(atoms)
    src = write_structures(tmp_path / "w.extxyz", frames)
    out = tmp_path / "out"
    r = mdrive("ramp", src, "--potential", "snap:W_2940_2017_2", "--duration", "1", "--memory-per-run", "2GB",
               "--out", out, timeout=WATCHDOG_S)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out / "summary.csv").set_index("run")
    for k in range(2):
        npt = table.loc[f"w-000{k}-npt"]
        assert npt["status"] == "invalid" and npt["cause"] in ("volume outside [0.1, 10] V0", "cell collapse")
        thermo_steps = _thermo_steps(out / "runs" / f"w-000{k}-npt" / "log.lammps")
        assert 0 < npt["steps_valid"] == thermo_steps[-1] < npt["steps_target"]
        outcome = json.loads((out / "runs" / f"w-000{k}-npt" / "outcome.json").read_text())
        assert outcome["peak_rss_bytes"] < 10 ** 9  # halted long before the budget, let alone the node
        nvt = table.loc[f"w-000{k}-nvt"]
        assert nvt["status"] == "valid" and nvt["steps_valid"] == nvt["steps_target"]


def _thermo_steps(log):
    from mdrive.logs import read_log

    return list(read_log(log).runs[-1].thermo["Step"])


# --- nothing mdrive did not write is ever deleted -------------------------------------------------

CU = ("--potential", "eam:Cu_u3.eam", "--ensemble", "nvt", "--duration", "0.05")


def _study(folder, out, *extra, cwd=None):
    src = folder / "cu.extxyz"
    if not src.exists():
        write_structures(src, [copper(2)])
    return mdrive("ramp", src, *CU, "--out", out, *extra, cwd=cwd)


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _user_folder(tmp):
    mine = tmp / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    return mine


def _results_holding_the_input(tmp):
    out = tmp / "res"
    assert _study(tmp, out).returncode == 0
    (tmp / "cu.extxyz").rename(out / "cu.extxyz")
    (tmp / "cu.extxyz").symlink_to(out / "cu.extxyz")
    return out


def _results_with_a_foreign_file(tmp):
    out = tmp / "res"
    assert _study(tmp, out).returncode == 0
    (out / "notes.txt").write_text("mine")
    return out


OVERWRITE_REFUSALS = [  # (what --out is, the words of the one line)
    (_user_folder, "holds no manifest.json, so mdrive did not write it"),
    (_results_holding_the_input, "holds an input of this run"),
    (_results_with_a_foreign_file, "holds notes.txt, which mdrive did not write"),
]


@pytest.mark.parametrize("make,needle", OVERWRITE_REFUSALS, ids=["user folder", "input inside", "foreign file"])
def test_overwrite_refuses_what_mdrive_did_not_write(tmp_path, make, needle):
    write_structures(tmp_path / "cu.extxyz", [copper(2)])
    out = make(tmp_path)
    before = _snapshot(tmp_path)
    r = _study(tmp_path, out, "--overwrite")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, r.stderr
    assert _snapshot(tmp_path) == before


def test_overwrite_refuses_the_working_folder(tmp_path):
    assert _study(tmp_path, tmp_path / "w", cwd=tmp_path).returncode == 0
    before = _snapshot(tmp_path)
    for out in (".", str(tmp_path / "w" / "..")):
        r = _study(tmp_path, out, "--overwrite", cwd=tmp_path / "w" if out != "." else tmp_path)
        assert r.returncode == 2 and "working folder" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert _snapshot(tmp_path) == before


def test_overwrite_replaces_only_mdrives_own_results(tmp_path):
    out = tmp_path / "res"
    assert _study(tmp_path, out).returncode == 0
    first = json.loads((out / "manifest.json").read_text())["started"]
    r = _study(tmp_path, out, "--overwrite", "--seed", "7")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["seed"] == 7 and manifest["started"] >= first
    assert set(manifest["outputs"]) == {"config.yaml", "summary.csv", "survival.csv", "survival.png"}


RESUME_CHANGES = [  # (what changes between the two invocations, the words of the one line)
    ("potential", "the potential or its files changed"),
    ("structure", "the structures changed"),
]


@pytest.mark.parametrize("change,needle", RESUME_CHANGES, ids=[c for c, _ in RESUME_CHANGES])
def test_resume_refuses_changed_inputs(tmp_path, change, needle):
    out = tmp_path / "res"
    eam = tmp_path / "Cu_u3.eam"
    from mdrive.runtime import potentials_dir

    eam.write_bytes((potentials_dir() / "Cu_u3.eam").read_bytes())
    src = write_structures(tmp_path / "cu.extxyz", [copper(2)])
    args = ("ramp", src, "--potential", f"eam:{eam}", "--ensemble", "nvt", "--duration", "0.05", "--out", out)
    assert mdrive(*args).returncode == 0
    if change == "potential":
        eam.write_text(eam.read_text() + "\n")
    else:
        moved = copper(2)
        moved.positions[0] += 0.05
        write_structures(src, [moved])
    before = _snapshot(out)
    r = mdrive(*args, "--resume")
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert _snapshot(out) == before


def _without_runs(out):
    import shutil

    shutil.rmtree(out / "runs")


def _without_one_run(out):
    import shutil

    shutil.rmtree(next((out / "runs").iterdir()))


def _broken_manifest(out):
    (out / "manifest.json").write_text("{not json")


REPORT_REFUSALS = [
    (_without_runs, "cannot rebuild"),
    (_without_one_run, "1 of its 2 runs are missing"),
    (_broken_manifest, "not a readable mdrive manifest"),
]


@pytest.mark.parametrize("damage,needle", REPORT_REFUSALS, ids=["no runs", "one run gone", "broken manifest"])
def test_report_refuses_what_it_cannot_rebuild_and_leaves_the_tables(tmp_path, damage, needle):
    out = tmp_path / "res"
    src = write_structures(tmp_path / "cu.extxyz", [copper(2)])
    assert mdrive("ramp", src, "--potential", "eam:Cu_u3.eam", "--duration", "0.05", "--out", out).returncode == 0
    damage(out)
    before = _snapshot(out)
    r = mdrive("report", out)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert _snapshot(out) == before


# --- every protocol: a planted crash costs no other run, resume keeps, report rebuilds the same ---------

def _three(folder):
    """Two sound copper cells and one (107 atoms) whose run the planted potential crashes."""
    src = folder / "set"
    src.mkdir()
    for name, drop in (("a", 0), ("b", 0), ("c", 1)):
        atoms = copper()
        atoms.rattle(0.02, seed=len(name) + drop)
        del atoms[list(range(drop))]
        write_structures(src / f"{name}.extxyz", [atoms])
    return src


def _crashing_potential(folder, mu_plant=None):
    """LJ Cu whose include sends SIGSEGV to the run's process for the 107-atom cell, or (gcmc, one cell) for
    the run at chemical potential `mu_plant`; mdrive's MC guard rail, which runs in mdrive's own process,
    is not a run and is left alone."""
    if mu_plant is None:
        plant = f'if "$(atoms) == 107" then "shell {FAULT} SIGSEGV"'
    else:
        inner = folder / "plant.in"
        inner.write_text(f'if "${{mu}} == {mu_plant}" then "shell {FAULT} SIGSEGV"\n')
        plant = f'if "$(is_defined(variable,mu))" then "include {inner}"'
    spec = folder / "crashing.yaml"
    spec.write_text(f"pair_style: lj/cut 6.0\npairs:\n  Cu-Cu: 0.4093 2.338\nelements: [Cu]\n"
                    f"commands:\n  - '{plant}'\n")
    return spec


PROTOCOLS = {  # command -> (arguments after the structures, the tables report rebuilds, runs, which run crashes)
    "ramp": (["--ensemble", "nvt", "--duration", "0.05"], ["summary.csv", "survival.csv"], 3, "c-nvt"),
    "evscan": (["--points", "5"], ["evscan.csv"], 3, "c"),
    "meltquench": (["--schedule", "nvt:300K:0.02ps", "--thermo-every", "5"], ["structure.csv"], None, "c-r0"),
    "widom": (["--species", "Cu", "--temperature", "500", "--steps", "100", "--equilibrate", "0", "--insertions", "5",
               "--blocks", "2"], ["widom.csv"], 3, "c"),
    "gcmc": (["--species", "Cu", "--mu=-4.0,-3.5,-3.0", "--temperature", "500", "--steps", "100", "--exchanges", "2",
              "--moves", "2"], ["isotherm.csv", "gcmc.csv"], 3, None),
}


@pytest.mark.parametrize("command", list(PROTOCOLS))
def test_every_protocol_survives_a_crash_resumes_and_rebuilds(tmp_path, command):
    extra, tables, _, crashed = PROTOCOLS[command]
    src = _three(tmp_path)
    if command == "gcmc":
        src = src / "a.extxyz"
    potential = _crashing_potential(tmp_path, -3.5 if command == "gcmc" else None)
    out = tmp_path / "out"
    args = (command, src, "--potential", potential, *extra, "--out", out)
    r = mdrive(*args, timeout=WATCHDOG_S, env=TRUSTED)
    assert r.returncode == 0, r.stderr
    verdicts = {p.parent.name: json.loads(p.read_text()) for p in (out / "runs").glob("*/metrics.json")}
    broken = {name: m for name, m in verdicts.items() if m["status"] != "valid"}
    assert len(broken) == 1, {n: (m["status"], m.get("cause")) for n, m in verdicts.items()}
    name, verdict = next(iter(broken.items()))
    assert verdict["status"] == "error" and verdict["cause"].startswith("crashed: SIGSEGV"), verdict
    if crashed:
        assert name == crashed
    assert len(verdicts) >= 3 and json.loads((out / "manifest.json").read_text())["finished"]
    before = mtimes(out)
    written = {t: (out / t).read_bytes() for t in tables}
    again = mdrive(*args, "--resume", timeout=WATCHDOG_S, env=TRUSTED)
    assert again.returncode == 0, again.stderr
    assert mtimes(out) == before
    for t in tables:
        (out / t).unlink()
    rebuilt = mdrive("report", out, env=TRUSTED)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert {t: (out / t).read_bytes() for t in tables} == written


@pytest.mark.parametrize("size,needle", [("5", "--memory-per-run 5 B is out of range: it must be at least 10000000 B"), ("50MB", "less than the 256 MB")])
def test_a_memory_budget_too_small_to_start_a_run_is_refused_up_front(tmp_path, size, needle):
    r = _study(tmp_path, tmp_path / "out", "--memory-per-run", size)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "out").exists()


def test_retry_failed_reruns_only_the_error_verdicts(tmp_path):
    out = tmp_path / "out"
    args = ("ramp", _three(tmp_path), "--potential", _crashing_potential(tmp_path), "--ensemble", "nvt",
            "--duration", "0.05", "--out", out)
    assert mdrive(*args, env=TRUSTED).returncode == 0
    before = mtimes(out)
    r = mdrive(*args, "--resume", "--retry-failed", env=TRUSTED)
    assert r.returncode == 0, r.stderr
    after = mtimes(out)
    assert [name for name in before if after[name] != before[name]] == ["c-nvt"]
    assert "--retry-failed continues a study" in mdrive(*args, "--retry-failed", env=TRUSTED).stderr


def test_a_run_whose_ranks_never_start_is_an_error_not_a_wait(tmp_path):
    """A K-rank run whose launcher hangs (the probe before the runs got through): its supervisor ends it once
    its ranks have not all come up in time (5 probe timeouts), with the cause; the next run is not held up."""
    import sys

    hang = tmp_path / "mpiexec-hangs-for-runs"
    real = f"{sys.executable.rsplit('/', 1)[0]}/mpiexec"
    hang.write_text(f'#!/bin/sh\ncase "$*" in *mdrive.worker*) exec sleep 600;; esac\nexec {real} "$@"\n')
    hang.chmod(0o755)
    env = {**ENV, "MDRIVE_MPIEXEC": str(hang), "MDRIVE_LAUNCH_TIMEOUT": "3"}
    src = structure_set(tmp_path, 2)
    out = tmp_path / "out"
    r = mdrive("ramp", src, "--potential", "eam:Cu_u3.eam", "--ensemble", "nvt", "--ranks-per-run", "2",
               "--duration", "0.2", "--out", out, np=2, env=env, timeout=WATCHDOG_S)
    assert "2-rank runs start on" in r.stderr, r.stderr  # the probe got through
    table = pd.read_csv(out / "summary.csv")
    assert list(table["status"]) == ["error", "error"]
    assert all(c.startswith("launch failed: its ranks did not all start within 15 s") for c in table["cause"])
    walls = [json.loads(p.read_text())["wall_s"] for p in out.glob("runs/*/outcome.json")]
    assert all(15 <= w < 200 for w in walls), walls  # ended by the start watch, not by the hung launcher (600 s)


def test_the_launch_lines_are_never_a_runs_last_words(tmp_path):
    """worker.log opens with the launch (asked, got): a worker that then dies silently is reported by its exit
    code alone, and one that said something by what it said."""
    from mdrive import isolation

    launch_lines = "mdrive: 1 rank(s) asked on vm:1: python -m mdrive.worker RUN\nmdrive: 1 rank(s) running on vm:1\n"
    (tmp_path / isolation.WORKER_LOG).write_text(launch_lines)
    assert isolation._outcome(tmp_path, 1 << 8, False, 10**9, 0).error == "crashed: worker exited with code 1"
    (tmp_path / isolation.WORKER_LOG).write_text(launch_lines + "ImportError: no module named x\n")
    said = isolation._outcome(tmp_path, 1 << 8, False, 10**9, 0).error
    assert said == "crashed: worker exited with code 1 (ImportError: no module named x)"
