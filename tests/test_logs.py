"""The log parser on a corpus made with real LAMMPS: clean, multi-run, minimize, WARNING inside thermo,
ERROR mid-run, SIGKILL mid-run, NaN, YAML and multi thermo styles."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np
import pytest
from helpers import ENV, LMP, lj_melt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdrive import logs
from mdrive.logs import parse_log, read_log, read_logs
from mdrive.runtime import new_lammps

LJ = lj_melt(4)


def run_lammps(path, script):
    """Run `script` in-process with its log at `path`; return thermo PotEng after each `run`."""
    lmp = new_lammps(log=path)
    energies = []
    try:
        for line in script.strip().splitlines():
            lmp.command(line)
            if line.startswith("run"):
                energies.append(lmp.get_thermo("pe"))
    finally:
        lmp.close()
    return energies


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    made = {}
    made["clean"] = (d / "clean.log", run_lammps(d / "clean.log", LJ + "thermo 10\nrun 50\nthermo 25\nrun 100"))
    made["yaml"] = (d / "yaml.log", run_lammps(d / "yaml.log", LJ + "thermo_style yaml\nthermo 10\nrun 50"))
    made["multi"] = (d / "multi.log", run_lammps(d / "multi.log", LJ + "thermo_style multi\nthermo 10\nrun 50"))
    made["minimize"] = (d / "min.log", run_lammps(d / "min.log", LJ.replace("fix 1 all nve", "")
                                                      + "thermo 5\nminimize 0 1e-8 40 400"))
    # a WARNING between thermo rows, then an ERROR mid-run: lost atoms through an open boundary
    warn = LJ + ("thermo 10\nrun 30\nchange_box all boundary f p p\nvelocity all create 50.0 1 loop geom\n"
                 "thermo_modify lost warn\nrun 200\nthermo_modify lost error\nvelocity all create 3.0 2 loop geom\n"
                 "thermo 2\nrun 200")
    (d / "warn.in").write_text(warn)
    subprocess.run([str(LMP), "-in", "warn.in", "-log", "warn.log"], cwd=d, capture_output=True, env=ENV)
    made["warn"] = (d / "warn.log", None)
    nan = ("units metal\natom_style atomic\nregion box block 0 10 0 10 0 10\ncreate_box 1 box\nmass 1 63.5\n"
           "create_atoms 1 single 1 1 1\ncreate_atoms 1 single 1 1 1\ncreate_atoms 1 single 5 5 5\n"
           "pair_style lj/cut 5\npair_coeff * * 0.4 2.3\nthermo 1\nfix 1 all nve\nrun 5\n")
    (d / "nan.in").write_text(nan)
    subprocess.run([str(LMP), "-in", "nan.in", "-log", "nan.log"], cwd=d, capture_output=True, env=ENV)
    made["nan"] = (d / "nan.log", None)
    # killed with SIGKILL in the middle of a long run, thermo flushed every row
    (d / "kill.in").write_text(lj_melt(8) + "thermo 10\nthermo_modify flush yes\nrun 10\nrun 10000000")
    # the lmp console script is a wrapper around the binary: kill the whole process group
    proc = subprocess.Popen([str(LMP), "-in", "kill.in", "-log", "kill.log"], cwd=d, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and (d / "kill.log").read_text().count("\n") < 120 if (d / "kill.log").exists() else True:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    made["kill"] = (d / "kill.log", None)
    return made


def test_clean_multi_run(corpus):
    path, energies = corpus["clean"]
    log = read_log(path)
    assert log.complete and log.error is None and log.version.startswith("LAMMPS (")
    assert [len(r.thermo) for r in log.runs] == [6, 5]
    assert list(log.runs[1].thermo["Step"]) == [50, 75, 100, 125, 150]
    # the last row of each run is the energy LAMMPS itself reports
    assert np.allclose([r.thermo["E_pair"].iloc[-1] for r in log.runs], energies, rtol=1e-6)
    run = log.runs[1]
    assert run.steps == 100 and run.atoms == 256 and run.procs == 1 and run.complete
    assert set(run.performance) >= {"tau/day", "timesteps/s", "atom-step/s"}
    assert run.performance["atom-step/s"] == pytest.approx(run.performance["timesteps/s"] * 256, rel=1e-2)
    assert run.cpu_use["mpi_tasks"] == 1
    assert {"Pair", "Neigh", "Comm", "Output", "Modify", "Other"} <= set(run.timing.index)
    assert run.timing["total"].sum() == pytest.approx(100, abs=1)
    assert run.dangerous_builds == 0
    assert len(log.thermo()) == 11


def test_yaml_matches_custom(corpus):
    yaml_log, custom = read_log(corpus["yaml"][0]), read_log(corpus["clean"][0])
    assert yaml_log.runs[0].style == "yaml"
    a, b = yaml_log.runs[0].thermo, custom.runs[0].thermo
    assert list(a["Step"]) == list(b["Step"])
    assert np.allclose(a["PotEng"], b["E_pair"]) and np.allclose(a["Temp"], b["Temp"])


def test_multi_style(corpus):
    run = read_log(corpus["multi"][0]).runs[0]
    assert run.style == "multi" and list(run.thermo["Step"]) == [0, 10, 20, 30, 40, 50]
    assert np.allclose(run.thermo["PotEng"], read_log(corpus["clean"][0]).runs[0].thermo["E_pair"], atol=1e-4)


def test_minimize(corpus):
    log = read_log(corpus["minimize"][0])
    run = log.runs[0]
    assert run.complete and run.performance is None  # minimize prints no Performance line
    assert run.thermo["E_pair"].is_monotonic_decreasing
    assert run.steps == len(run.thermo) - 1 or run.thermo["Step"].iloc[-1] == run.steps


def test_warning_inside_thermo_and_error_mid_run(corpus):
    log = read_log(corpus["warn"][0])
    warned, failed = log.runs[1], log.runs[2]
    assert list(warned.thermo["Step"]) == list(range(30, 231, 10))  # no row lost to the WARNING line
    assert any("Lost atoms" in w for w in warned.warnings) and warned.complete
    assert failed.error.startswith("Lost atoms") and failed.ended == "error"
    rows = [int(ln.split()[0]) for ln in corpus["warn"][0].read_text().split("Per MPI")[-1].splitlines()
            if ln.strip()[:1].isdigit()]
    assert list(failed.thermo["Step"]) == rows and len(rows) > 2 and rows[0] == 230
    assert not log.complete and log.error.startswith("Lost atoms")


def test_input_error_keeps_last_input_line(tmp_path):
    with pytest.raises(Exception):
        run_lammps(tmp_path / "bad.log", LJ + "thermo 10\nrun 20\npair_style no_such_style")
    log = read_log(tmp_path / "bad.log")
    assert len(log.runs) == 1 and log.runs[0].ended == "completed"  # the error came after the run
    assert "no_such_style" in log.error and log.last_input_line == "pair_style no_such_style"


def test_nan_rows_kept(corpus):
    run = read_log(corpus["nan"][0]).runs[0]
    assert len(run.thermo) == 6
    assert np.isinf(run.thermo["E_pair"].iloc[0]) and run.thermo["Temp"].iloc[1:].isna().all()


def test_killed_run_keeps_every_complete_row(corpus):
    text = corpus["kill"][0].read_bytes()
    log = parse_log(text)
    killed = log.runs[-1]
    assert killed.ended == "truncated" and not log.complete
    body = text.split(b"Per MPI rank memory")[-1].split(b"\n")[2:]
    complete_rows = [ln for ln in body[:-1] if ln.strip()[:1].isdigit()]  # body[-1] may be torn
    assert len(killed.thermo) == len(complete_rows) > 5
    assert (np.diff(killed.thermo["Step"]) == 10).all()


def test_damaged_text_never_raises(corpus):
    text = corpus["clean"][0].read_bytes()
    full = read_log(corpus["clean"][0]).thermo()
    for cut in range(0, len(text), max(1, len(text) // 97)):
        got = parse_log(text[:cut]).thermo()
        # every row whose line (newline included) was written before the cut comes back, and no other
        whole = sum(1 for line in text[:cut].split(b"\n")[:-1]
                    if line.strip()[:1].isdigit() and len(line.split()) == 6)
        assert len(got) == whole
        if whole:
            assert np.allclose(got["E_pair"], full["E_pair"][:whole])
    injected = text.replace(b"\n        20", b"\nWARNING: injected (src/x.cpp:1)\ncolvars: noise\n        20")
    assert len(parse_log(injected).runs[0].thermo) == 6


def test_compiled_scanner_built_and_exact():
    """make test builds mdrive._rowscan; its numbers are exactly Python's float() of the same text."""
    assert logs._scan_compiled is not None, "mdrive._rowscan was not built: pip install -e . needs a C compiler"
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(0, 1e3, 3000), 10.0 ** rng.uniform(-320, 308, 3000), [0.0, -0.0]])
    formats = ["%.8g", "%.17g", "%g", "%.3e", "%.15f", "%.20E", "%+.0f"]
    tokens = [(f % v).encode() for v in values for f in formats]
    tokens += [b"nan", b"-nan", b"inf", b"-Infinity", b"1.", b".5", b"9007199254740993", b"1e-400", b"1e400",
               b"00012.50", b"123456789012345678901234567"]
    text = b"\n".join(tokens) + b"\n"
    rows, end = logs._scan_rows(text, 0, len(text), 1)
    expected = np.array([float(t) for t in tokens])
    assert end == len(text) and len(rows) == len(tokens)
    assert np.array_equal(rows[:, 0], expected, equal_nan=True)
    assert np.array_equal(np.signbit(rows[:, 0]), np.signbit(expected))
    for bad in [b"1e", b"--1", b"1.5.3", b"+", b".", b"e5", b"infin", b"nanx", b"1e+", b"0x10", b"1,5"]:
        text = b"1 2\n3 " + bad + b"\n5 6\n"
        rows, end = logs._scan_rows(text, 0, len(text), 2)
        assert rows.tolist() == [[1.0, 2.0]] and end == 4, bad


def test_python_scanner_reads_the_same(corpus, monkeypatch):
    """Where no C compiler built the scanner, the Python one returns the same logs, row for row."""
    compiled = {name: read_log(path) for name, (path, _) in corpus.items()}
    monkeypatch.setattr(logs, "_scan_compiled", None)
    for name, (path, _) in corpus.items():
        ours, theirs = read_log(path), compiled[name]
        assert len(ours.runs) == len(theirs.runs) and ours.warnings == theirs.warnings, name
        for a, b in zip(ours.runs, theirs.runs):
            assert a.thermo.equals(b.thermo) and a.ended == b.ended, name


def test_read_logs_folder(corpus):
    table = read_logs(corpus["clean"][0].parent, pattern="clean.log")
    assert set(table["file"]) == {"clean.log"} and len(table) == 11 and set(table["run"]) == {0, 1}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_damage_keeps_every_row_before_it(corpus, data):
    """Random truncation and a random line injected at a random line start: never raises, and every
    thermo row completed before the damage comes back with its values."""
    text = corpus["clean"][0].read_bytes()
    full = read_log(corpus["clean"][0]).thermo()
    starts = [0] + [i + 1 for i, b in enumerate(text) if b == 10]
    at = data.draw(st.sampled_from(starts), label="injection point")
    junk = data.draw(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
                     .filter(lambda t: not t.lstrip()[:1].isdigit()), label="injected line")
    cut = data.draw(st.integers(at, len(text)), label="truncation")
    damaged = text[:at] + junk.encode() + b"\n" + text[at:cut]
    got = parse_log(damaged).thermo()  # must not raise
    before = sum(1 for line in text[:at].split(b"\n")[:-1] if line.strip()[:1].isdigit() and len(line.split()) == 6)
    assert len(got) >= before
    if before:
        assert np.allclose(got["E_pair"].to_numpy()[:before], full["E_pair"].to_numpy()[:before])
