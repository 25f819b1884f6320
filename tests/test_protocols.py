"""The one protocol interface: for every protocol, the options come from its Params declaration, the
resolved config is kept and replays the study, command-line options override a config file, --resume keeps
finished runs and `report` rebuilds the same table from the folder alone. And the results layer imports
without MPI or LAMMPS."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from helpers import copper, mdrive, write_structures

from mdrive import protocol
from mdrive.params import option, specs

CU = ["--potential", "eam:Cu_u3.eam"]
# protocol -> (its arguments for a small, quick study, its main table, the columns that must match exactly)
STUDIES = {
    "ramp": (["{cu}", *CU, "--ensemble", "nvt", "--duration", "0.1ps", "--t-stop", "600K"], "summary.csv",
             ["run", "status", "steps_valid", "temp_at_end"]),
    "evscan": (["{cu}", *CU, "--points", "5", "--strain", "10%"], "evscan.csv",
               ["structure", "status", "sign_changes", "spearman_E_compression"]),
    "meltquench": (["{cu}", *CU, "--schedule", "nvt:600K:0.1ps, min"], "structure.csv",
                   ["run", "status", "density_g_cm3"]),
    "widom": (["--lj", "--temperature", "2.0", "--density", "0.5", "--cells", "3", "--cutoff", "2.5sigma",
               "--steps", "400", "--equilibrate", "100", "--insertions", "20", "--blocks", "2"], "widom.csv",
              ["run", "status", "mu_ex"]),
    "gcmc": (["--lj", "--temperature", "2.0", "--mu", "-3.2,-3.0", "--cells", "3", "--steps", "400"],
             "isotherm.csv", ["run", "status", "value", "n_mean"]),
}


@pytest.fixture(scope="module")
def cu(tmp_path_factory):
    return write_structures(tmp_path_factory.mktemp("cu") / "cu.extxyz", [copper(2)])


def table(folder, name, columns):
    return pd.read_csv(folder / name)[columns]


@pytest.mark.parametrize("name", protocol.PROTOCOLS)
def test_help_lists_every_declared_option_with_its_unit(name):
    p = protocol.get(name)
    r = mdrive(name, "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for field, spec in {**specs(protocol.RunOptions), **specs(p.params)}.items():
        if spec.flag != "":
            assert option(field, spec) in text, field
    assert "[ps; or with a unit, e.g. 2fs or 0.002ps" in text or name == "evscan"


@pytest.mark.parametrize("name", protocol.PROTOCOLS)
def test_config_replays_overrides_resumes_and_reports(tmp_path, cu, name):
    argv, main, columns = STUDIES[name]
    argv = [a.format(cu=cu) for a in argv]
    out = tmp_path / "first"
    r = mdrive(name, *argv, "--out", out)
    assert r.returncode == 0, r.stderr
    first = table(out, main, columns)
    config = yaml.safe_load((out / "config.yaml").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"] == {"command": name, **config}
    assert set(config) == {f for cls in (protocol.RunOptions, protocol.get(name).params)
                           for f, s in specs(cls).items() if s.replay}

    replay = tmp_path / "replay"
    r = mdrive(name, "--config", out / "config.yaml", "--out", replay)
    assert r.returncode == 0, r.stderr
    assert json.loads((replay / "manifest.json").read_text())["config"] == manifest["config"]
    pd.testing.assert_frame_equal(table(replay, main, columns), first)

    other = tmp_path / "other"
    seed = "seed" if "seed" in config else None
    if seed:
        r = mdrive(name, "--config", out / "config.yaml", "--seed", "777", "--out", other)
        assert r.returncode == 0, r.stderr
        assert yaml.safe_load((other / "config.yaml").read_text())["seed"] == 777

    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}
    r = mdrive(name, *argv, "--out", out, "--resume")
    assert r.returncode == 0, r.stderr
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")} == stamps  # nothing re-run

    (out / main).unlink()
    r = mdrive("report", out)
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(table(out, main, columns), first)


def test_results_layer_imports_without_mpi_or_lammps():
    modules = ["mdrive.logs", "mdrive.metrics", "mdrive.plots", "mdrive.jobs", "mdrive.params",
               *(f"mdrive.protocols.{p}" for p in protocol.PROTOCOLS)]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print('mpi4py.MPI' in sys.modules, 'lammps' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


def test_ruff_is_clean():
    """The lint configuration in pyproject.toml holds for the package, the tests and the benchmarks."""
    from helpers import ROOT

    r = subprocess.run([sys.executable, "-m", "ruff", "check", "mdrive", "tests", "bench"], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:]


def test_every_verdict_has_status_cause_and_wall_time(tmp_path):
    from mdrive.jobs import verdict

    bare = verdict(lambda run_dir, info, error: {"n": 1}, tmp_path, {}, {"wall_s": 2.5})
    assert (bare["status"], bare["wall_s"]) == ("error", 2.5) and "no verdict" in bare["cause"]
    broken = verdict(lambda run_dir, info, error: 1 / 0, tmp_path, {"run": "x"}, {})
    assert broken["status"] == "error" and broken["cause"].startswith("analysis failed: ZeroDivisionError")
    stopped = verdict(lambda run_dir, info, error: {"status": "censored"}, tmp_path, {}, {"stopped": "SIGTERM"})
    assert (stopped["status"], stopped["cause"], stopped["wall_s"]) == ("censored", "SIGTERM", None)
    # stopped before it wrote a log (a scancel reaching the run's process as it started): censored, not failed
    nothing = verdict(lambda run_dir, info, error: {"status": "error", "cause": "no ramp in log"}, tmp_path, {},
                      {"stopped": "signal SIGTERM", "error": None})
    assert (nothing["status"], nothing["cause"]) == ("censored", "signal SIGTERM")
    crashed = verdict(lambda run_dir, info, error: {"status": "error", "cause": error}, tmp_path, {},
                      {"stopped": "signal SIGTERM", "error": "crashed: SIGSEGV"})
    assert (crashed["status"], crashed["cause"]) == ("error", "crashed: SIGSEGV")
