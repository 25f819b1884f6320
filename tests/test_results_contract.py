"""Results read only through each protocol's declaration: `report` and `compare` on kept study folders of every
protocol (tests/data/studies, written by its make.py) give byte for byte the tables they gave when the folders
were written; a protocol declared in the test folder alone appears, ranked, in `compare`."""
from __future__ import annotations

import shutil

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
