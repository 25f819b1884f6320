"""Results read only through each protocol's declaration: `report` and `compare` on kept study folders of every
protocol (tests/data/studies, written by its make.py) give byte for byte the tables they gave when the folders
were written; a protocol declared in the test folder alone appears, ranked, in `compare`."""
from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest
from helpers import ROOT, mdrive

STUDIES = ROOT / "tests" / "data" / "studies"
FOLDERS = sorted(p.name for p in STUDIES.iterdir() if (p / "manifest.json").is_file())


@pytest.fixture
def studies(tmp_path):
    for name in FOLDERS:
        shutil.copytree(STUDIES / name, tmp_path / name)
    return tmp_path


def tables(folder) -> dict:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.suffix in (".csv", ".parquet") or p.name == "headline.txt"}


@pytest.mark.parametrize("name", FOLDERS)
def test_report_rebuilds_the_kept_tables_byte_for_byte(studies, name):
    folder = studies / name
    kept = tables(STUDIES / name)
    for path in tables(folder).values():
        if path.name != "headline.txt":
            path.unlink()  # rebuilt from the logs alone, or the test fails
    r = mdrive("report", folder)
    assert r.returncode == 0, r.stderr
    (folder / "headline.txt").write_text(r.stdout)
    rebuilt = tables(folder)
    assert sorted(rebuilt) == sorted(kept)
    for rel, path in kept.items():
        if path.suffix == ".parquet":  # the file's own metadata names the pyarrow that wrote it
            pd.testing.assert_frame_equal(pd.read_parquet(rebuilt[rel]), pd.read_parquet(path))
        else:
            assert rebuilt[rel].read_bytes() == path.read_bytes(), rel


def test_compare_gives_the_kept_leaderboard(studies):
    r = mdrive("compare", studies / "board.md", *[studies / n for n in FOLDERS], "--format", "md")
    assert r.returncode == 0, r.stderr
    assert (studies / "board.md").read_text() == (STUDIES / "compare.md").read_text()


def test_a_protocol_declared_in_the_test_folder_is_ranked_in_compare(tmp_path, monkeypatch):
    """tests/toy_protocol.py declares a protocol (its outputs, typed headline and one ranked metric) and nothing
    in mdrive names it: run through mdrive's command line, its folders join compare with their numbers ranked."""
    import json
    import sys

    from helpers import ENV, copper, write_structures

    from mdrive import compare, study_kinds

    monkeypatch.setattr(study_kinds, "_registered", dict(study_kinds._registered))  # the other tests never see it
    import toy_protocol

    study_kinds.register(toy_protocol.KIND)

    src = write_structures(tmp_path / "cu.extxyz", [copper(2), copper(3)])
    energies = {}
    for spec in ("eam:Cu_u3.eam", "eam/alloy:CuNi.eam.alloy"):
        out = tmp_path / spec.split(":")[0].replace("/", "-")
        r = subprocess.run([sys.executable, str(ROOT / "tests" / "toy_protocol.py"), "toy", str(src), "--potential",
                            spec, "--out", str(out)], capture_output=True, text=True, env=ENV, timeout=300)
        assert r.returncode == 0, r.stderr
        head = json.loads((out / "manifest.json").read_text())["headline"]
        assert set(head) == set(toy_protocol.ToyHeadline.__annotations__) and head["structures"] == 2
        assert (out / toy_protocol.TABLE).is_file()
        energies[spec] = head["energy_per_atom"]
    assert energies["eam:Cu_u3.eam"] != energies["eam/alloy:CuNi.eam.alloy"]
    assert study_kinds.get("toy") is toy_protocol.KIND
    board = tmp_path / "board.md"
    compare.build(board, [tmp_path / "eam", tmp_path / "eam-alloy"], {}, "md")
    lines = [x for x in board.read_text().splitlines() if x.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    assert "toy E (eV/atom)" in head
    rows = {cells[1]: cells for cells in ([c.strip() for c in x.strip("|").split("|")] for x in lines[2:])}
    column = head.index("toy E (eV/atom)")
    for spec, energy in energies.items():
        assert float(rows[spec][column]) == pytest.approx(energy, rel=1e-3)
    best = min(energies, key=energies.get)  # lower is better, as the metric declares
    assert rows[best][0] == "1" and rows[max(energies, key=energies.get)][0] == "2"


def conforms(value, kind) -> bool:
    """`value` (JSON data) is of the declared headline type: a TypedDict, dict[str, T], or a plain type."""
    import typing

    if kind is None or kind is object:
        return True
    if typing.is_typeddict(kind):
        hints = typing.get_type_hints(kind)
        required = kind.__required_keys__
        return (isinstance(value, dict) and required <= set(value) <= set(hints)
                and all(conforms(v, hints[k]) for k, v in value.items()))
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) and conforms(v, args[1]) for k, v in value.items())
    if origin in (typing.Union, __import__("types").UnionType):
        return any(conforms(value, a) for a in args)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, origin or kind)


@pytest.mark.parametrize("name", FOLDERS)
def test_each_kept_headline_is_of_its_protocols_declared_type(name):
    import json

    from mdrive import study_kinds

    manifest = json.loads((STUDIES / name / "manifest.json").read_text())
    kind = study_kinds.of_folder(STUDIES / name, manifest)
    assert kind.headline is not None and conforms(manifest["headline"], kind.headline), manifest["headline"]
    assert set(kind.outputs) & set(manifest["outputs"]), "the folder holds none of the outputs its kind declares"
    scores = kind.scores(manifest["headline"], manifest["parameters"])
    assert set(scores) <= {m.column for m in kind.metrics}  # it scores only what it declares


def test_the_headline_check_can_fail():
    from mdrive.protocols import gcmc, ramp

    assert not conforms({"nvt": {"runs": "eight"}}, ramp.KIND.headline)
    assert not conforms({"p0.1": {"status": "valid", "n_mean": 3.0}}, gcmc.KIND.headline)  # density_mean missing


def test_a_scaling_study_gives_compare_its_one_rank_speed(tmp_path):
    """A scaling folder is a kind like the others: compare reads its one-rank point as a speed point."""
    out = tmp_path / "strong"
    r = mdrive("scaling", "plan", "--kind", "strong", "--potential", "eam:Cu_u3.eam", "--atoms", "1000", "--ranks", "1",
               "--steps", "200", "--warmup", "10", "--out", out)
    assert r.returncode == 0, r.stderr
    assert mdrive("scaling", "run", out).returncode == 0
    assert mdrive("scaling", "collect", out).returncode == 0
    rate = pd.read_csv(out / "scaling.csv").iloc[0]
    assert rate["status"] == "done"
    r = mdrive("compare", tmp_path / "board.md", out, "--format", "md")
    assert r.returncode == 0, r.stderr
    lines = [x for x in (tmp_path / "board.md").read_text().splitlines() if x.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    row = [c.strip() for c in lines[2].strip("|").split("|")]
    assert float(row[head.index("steps/s @1000")]) == pytest.approx(rate["timesteps_per_s"], rel=1e-3)
    assert mdrive("status", out).stdout.strip() == "strong-r0001: done"
