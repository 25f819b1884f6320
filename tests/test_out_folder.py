"""The output folder is the study's own: one command at a time (the study lock), nothing outside it or not
written by mdrive is ever removed, a full disk costs no finished run, report never turns a lost log into a
verdict, and --resume/--config replays work from any working folder with relative paths."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
from helpers import ENV, ROOT, copper, mdrive, structure_set, write_structures

CU = ["--potential", "eam:Cu_u3.eam", "--ensemble", "nvt"]


def test_a_second_command_on_a_busy_folder_is_refused(tmp_path):
    src = structure_set(tmp_path, 2)
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "mdrive", "ramp", str(src), *CU, "--duration", "400", "--out",
                              str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
    deadline = time.monotonic() + 60
    while not list(out.glob("runs/*/log.lammps")) and time.monotonic() < deadline:
        time.sleep(0.1)
    for extra in ([], ["--resume"], ["--overwrite"], ["--seed", "7", "--overwrite"]):
        r = mdrive("ramp", src, *CU, "--duration", "400", "--out", out, *extra)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "in use by another mdrive command" in r.stderr, r.stderr
    assert first.poll() is None  # still running, untouched
    first.terminate()
    assert first.wait(timeout=120) == 128 + 15, first.communicate()[1]
    metrics = [json.loads(p.read_text()) for p in out.glob("runs/*/metrics.json")]
    assert metrics and {m["seed"] for m in metrics} == {12345}  # only the first command's study is there
    r = mdrive("ramp", src, *CU, "--duration", "400", "--out", out, "--seed", "7", "--overwrite", "--time-limit", "2")
    assert r.returncode == 3, r.stderr  # the lock died with its command: the folder is free again


def _study(tmp_path):
    src = write_structures(tmp_path / "cu.extxyz", [copper(2)])
    out = tmp_path / "out"
    assert mdrive("ramp", src, *CU, "--duration", "0.05", "--out", out).returncode == 0
    return src, out


@pytest.mark.parametrize("plant", ["runs/myanalysis/plot.py", "runs/cu-nvt/mynotes.txt", "runs/my-config.yaml",
                                   "runs/cu-nvt/sub/x", "mine.txt"])
def test_overwrite_and_resume_refuse_a_folder_holding_files_mdrive_did_not_write(tmp_path, plant):
    src, out = _study(tmp_path)
    (out / plant).parent.mkdir(parents=True, exist_ok=True)
    (out / plant).write_text("mine")
    (out / "runs" / "cu-nvt" / "metrics.json").unlink()  # a run --resume would redo from scratch
    for option in ("--overwrite", "--resume"):
        if option == "--resume" and not plant.startswith("runs/cu-nvt"):
            continue  # --resume removes only the folders of the runs it redoes
        r = mdrive("ramp", src, *CU, "--duration", "0.05", "--out", out, option)
        assert r.returncode == 2 and "which mdrive did not write there" in r.stderr, r.stderr
        assert plant.split("/sub")[0].split("/plot.py")[0] in r.stderr
    assert (out / plant).read_text() == "mine" and (out / "summary.csv").exists()


def test_overwrite_never_follows_a_manifest_out_of_the_folder(tmp_path):
    src, out = _study(tmp_path)
    victims = [tmp_path / "victim", tmp_path / "abs-victim"]
    for v in victims:
        v.mkdir()
        (v / "data.txt").write_text("keep")
    (out / "link").symlink_to(victims[0])
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["outputs"] += ["../victim", str(victims[1]), "link", "..", "/", 5, None]
    (out / "manifest.json").write_text(json.dumps(manifest))
    r = mdrive("ramp", src, *CU, "--duration", "0.05", "--out", out, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert all((v / "data.txt").read_text() == "keep" for v in victims)
    assert not (out / "link").exists() and (out / "summary.csv").exists()  # the link itself was mdrive's to drop


@pytest.mark.parametrize("damage", ["missing", "empty", "garbage", "folder"])
def test_report_says_a_lost_log_and_leaves_the_tables(tmp_path, damage):
    src, out = _study(tmp_path)
    log = out / "runs" / "cu-nvt" / "log.lammps"
    log.unlink()
    if damage == "empty":
        log.write_text("")
    elif damage == "garbage":
        log.write_bytes(b"\x00\xff not a log \n" * 50)
    elif damage == "folder":
        log.mkdir()
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".mdrive.lock"}
    r = mdrive("report", out)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "runs/cu-nvt: log.lammps is" in r.stderr and "tables are left as they are" in r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".mdrive.lock"} == before


def test_resume_and_config_replay_from_another_folder_with_relative_paths(tmp_path):
    from mdrive.runtime import potentials_dir

    shutil.copy(potentials_dir() / "Cu_u3.eam", tmp_path / "my.eam")
    structure_set(tmp_path, 2)
    args = ["ramp", "./set", "--potential", "eam:my.eam", "--ensemble", "nvt", "--duration", "0.05"]
    r = mdrive(*args, "--out", "study", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    config = (tmp_path / "study" / "config.yaml").read_text()
    assert f"potential: eam:{tmp_path / 'my.eam'}" in config and f"- {tmp_path / 'set'}\n" in config
    shutil.rmtree(tmp_path / "study" / "runs" / "good01-nvt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = mdrive("ramp", "--config", "../study/config.yaml", "--out", "../study", "--resume", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "study" / "runs" / "good01-nvt" / "metrics.json").is_file()
    for cwd, up in ((tmp_path, "."), (elsewhere, "..")):
        spelled = {"./set": f"{up}/set", "eam:my.eam": f"eam:{up}/my.eam"}
        r = mdrive(*[spelled.get(a, a) for a in args], "--out", tmp_path / "study", "--resume", cwd=cwd)
        assert r.returncode == 0, r.stderr  # the same study, however its paths are spelled
    (tmp_path / "my.eam").write_text((tmp_path / "my.eam").read_text() + "\n")  # same name, other content
    r = mdrive(*args, "--out", "study", "--resume", cwd=tmp_path)
    assert r.returncode == 2 and "the potential or its files changed" in r.stderr, r.stderr


def test_a_full_disk_costs_no_finished_run_and_resume_completes(tmp_path):
    """--out on a 300 kB tmpfs under mpirun -np 2: the runs that have verdicts keep them, one line says what
    could not be written (no traceback, non-zero exit), and --resume completes once there is room."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        src = structure_set(tmp_path, 8)
        args = ["ramp", src, *CU, "--duration", "1", "--out", disk / "out"]
        r = mdrive(*args, np=2)
        assert r.returncode == 1, r.stderr
        assert "Traceback" not in r.stderr and "MPI_Abort" not in r.stderr + r.stdout, r.stderr
        said = [x for x in r.stderr.splitlines() if not x.startswith("[mdrive]")]
        assert len(said) == 1 and "No space left on device" in said[0] and "--resume" in said[0], r.stderr
        kept = {p.parent.name: json.loads(p.read_text()) for p in (disk / "out" / "runs").glob("*/metrics.json")}
        assert 0 < len(kept) < 8 and all(m["status"] == "valid" for m in kept.values())
        subprocess.run(["mount", "-o", "remount,size=50m", str(disk)], check=True)
        r = mdrive(*args, "--resume", np=2)
        assert r.returncode == 0, r.stderr
        table = pd.read_csv(disk / "out" / "summary.csv")
        assert len(table) == 8 and (table["status"] == "valid").all()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_overwrite_into_a_new_folder_under_mpi(tmp_path):
    """`make run`'s own command: --overwrite where there is nothing to replace yet (the folder the study lock
    just created holds no manifest), under mpirun -np 2, twice."""
    src = write_structures(tmp_path / "cu.extxyz", [copper(2)])
    out = tmp_path / "new" / "out"
    for _ in range(2):
        r = mdrive("ramp", src, *CU, "--duration", "0.05", "--out", out, "--overwrite", np=2, timeout=300)
        assert r.returncode == 0, r.stderr
        assert len(pd.read_csv(out / "summary.csv")) == 1
