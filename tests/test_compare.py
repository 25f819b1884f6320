"""`mdrive compare`: a report built from real small runs of three potentials (two shipped EAMs and a shipped
SNAP of copper), its numbers checked against the folders' own summaries, and the page opened in chromium."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from helpers import copper_set, mdrive

POTENTIALS = {"eam": "eam:Cu_u3.eam", "alloy": "eam/alloy:CuNi.eam.alloy", "snap": "snap:Cu_Zuo_JPCA2020.quadratic"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Ramps (NVT + NPT) of every potential on two cell sizes, EV scans of two of them, and one ramp to a
    different end pressure."""
    d = tmp_path_factory.mktemp("compare")
    src = copper_set(d / "set")
    folders = {}
    for name, spec in POTENTIALS.items():
        folders[f"ramp-{name}"] = d / f"ramp-{name}"
        r = mdrive("ramp", src, "--potential", spec, "--duration", "0.1", "--out", folders[f"ramp-{name}"], np=2)
        assert r.returncode == 0, r.stderr
    for name in ("eam", "snap"):
        folders[f"ev-{name}"] = d / f"ev-{name}"
        r = mdrive("evscan", src, "--potential", POTENTIALS[name], "--points", "7", "--out", folders[f"ev-{name}"])
        assert r.returncode == 0, r.stderr
    folders["ramp-eam-100GPa"] = d / "ramp-eam-100GPa"
    r = mdrive("ramp", src, "--potential", POTENTIALS["eam"], "--duration", "0.1", "--p-stop", "100",
               "--ensemble", "npt", "--out", folders["ramp-eam-100GPa"], np=2)
    assert r.returncode == 0, r.stderr
    return d, folders


def markdown_table(path) -> pd.DataFrame:
    lines = [x for x in path.read_text().splitlines() if x.startswith("|")]
    def cells(line):  # a cell may hold an escaped bar
        return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]

    head = cells(lines[0])
    rows = [cells(x) for x in lines[2:]]
    return pd.DataFrame(rows, columns=head).set_index("potential")


def number(text: str) -> float:
    return np.nan if text == "missing" else float(text)


def test_leaderboard_numbers_are_the_folders_own(runs):
    d, f = runs
    out = d / "board.md"
    r = mdrive("compare", out, f["ramp-eam"], f["ramp-alloy"], f["ramp-snap"], f["ev-eam"], f["ev-snap"],
               "--format", "md", "--label", "eam:Cu_u3.eam=Cu EAM")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # like parameters: no warning
    table = markdown_table(out)
    assert list(table.index) != [] and set(table.index) == {"Cu EAM", POTENTIALS["alloy"], POTENTIALS["snap"]}
    for name, label in (("eam", "Cu EAM"), ("alloy", POTENTIALS["alloy"]), ("snap", POTENTIALS["snap"])):
        head = json.loads((f[f"ramp-{name}"] / "manifest.json").read_text())["headline"]
        row = table.loc[label]
        for ensemble in ("nvt", "npt"):
            assert number(row[f"{ensemble.upper()} AUC"]) == pytest.approx(head[ensemble]["arena_auc"], abs=1e-4)
            assert number(row[f"{ensemble.upper()} % steps"]) == pytest.approx(head[ensemble]["completed_percent"],
                                                                             rel=1e-3)
            assert int(row[f"{ensemble.upper()} scored"]) == head[ensemble]["scored"]
        # the speed exponent is the slope of log steps/s against log atoms over the folder's own runs
        s = pd.read_csv(f[f"ramp-{name}"] / "summary.csv").dropna(subset=["steps_per_s"])
        by = s.groupby("n_atoms")["steps_per_s"].median()
        slope = np.polyfit(np.log(by.index.to_numpy(float)), np.log(by.to_numpy(float)), 1)[0]
        assert number(row["n (steps/s ∝ N^-n)"]) == pytest.approx(-slope, abs=2e-3)
    for name, label in (("eam", "Cu EAM"), ("snap", POTENTIALS["snap"])):
        head = json.loads((f[f"ev-{name}"] / "manifest.json").read_text())["headline"]
        assert number(table.loc[label, "EV fail %"]) == pytest.approx(head["failure_percent"])
        assert number(table.loc[label, "EV Spearman E"]) == pytest.approx(head["spearman_E_compression"], abs=1e-4)
    assert table.loc[POTENTIALS["alloy"], "EV fail %"] == "missing"  # not run: missing, never zero
    ranks = table["rank"].astype(float)
    assert sorted(ranks) == sorted(ranks.rank(method="min"))  # ranks from 1, ties shared
    assert number(table.loc[POTENTIALS["snap"], "steps/s @100"]) < number(table.loc["Cu EAM", "steps/s @100"])


def test_unlike_parameters_are_said_and_not_ranked_together(runs):
    d, f = runs
    out = d / "unlike.html"
    r = mdrive("compare", out, f["ramp-eam-100GPa"], f["ramp-snap"])
    assert r.returncode == 0, r.stderr
    assert "ramp: p_stop differs between folders: 100 GPa (eam:Cu_u3.eam); 500 GPa (" in r.stderr
    page = out.read_text()
    assert "p_stop differs between folders" in page and "not ranked together" in page


@pytest.mark.browser
def test_the_page_works_offline_in_chromium(runs, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is installed by make test")
    browser_path = shutil.which("chromium")
    if browser_path is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    d, f = runs
    out = tmp_path / "report.html"
    r = mdrive("compare", out, *[f[k] for k in ("ramp-eam", "ramp-alloy", "ramp-snap", "ev-eam", "ev-snap")])
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing to fetch
    from PIL import Image

    errors, requests = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda q: requests.append(q.url))
        page.goto(out.as_uri())
        page.screenshot(path=tmp_path / "report.png", full_page=True)  # kept beside the report: the CI artifact
        figures = page.locator("figure")
        titles = [figures.nth(k).locator("figcaption").inner_text() for k in range(figures.count())]
        for k in range(figures.count()):
            shot = tmp_path / f"figure{k}.png"
            figures.nth(k).locator("svg").screenshot(path=shot)
            pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
            assert pixels.std() > 10 and (pixels < 128).mean() > 0.005, f"figure '{titles[k]}' looks blank"
        first = page.locator("#leaderboard tbody tr td:nth-child(2)").all_inner_texts()
        page.locator("#leaderboard th", has_text="NPT AUC").click()  # sorting works in the page
        page.locator("#leaderboard th", has_text="NPT AUC").click()
        sorted_rows = page.locator("#leaderboard tbody tr td:nth-child(6)").all_inner_texts()  # NPT AUC
        browser.close()
    assert errors == [] and requests == [out.as_uri()], (errors, requests)
    assert titles == ["Valid runs over the ramps", "Ramp verdicts and failure causes", "Survival per structure",
                      "Failure rate by element present", "EV scans: the worst curves",
                      "Speed: MD steps/s against atoms"]  # each kind's own figures, then the speed of all
    aucs = [float(x.split()[0]) for x in sorted_rows]
    assert aucs == sorted(aucs, reverse=True) and len(first) == 3
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_compare_never_writes_over_what_it_reads_or_did_not_write(runs, tmp_path):
    d, f = runs
    manifest = f["ramp-eam"] / "manifest.json"
    before = manifest.read_bytes()
    for target in (manifest, f["ramp-eam"] / "board.html"):  # inside a folder it reads
        r = mdrive("compare", target, f["ramp-eam"])
        assert r.returncode == 2 and "which compare reads" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert manifest.read_bytes() == before and not (f["ramp-eam"] / "board.html").exists()
    mine = tmp_path / "notes.html"
    mine.write_text("my notes")
    r = mdrive("compare", mine, f["ramp-eam"])
    assert r.returncode == 2 and "compare did not write it" in r.stderr and mine.read_text() == "my notes"
    below_a_file = tmp_path / "notes.html" / "board.html"
    r = mdrive("compare", below_a_file, f["ramp-eam"])
    assert r.returncode == 2 and "is a file, not a folder" in r.stderr and len(r.stderr.splitlines()) == 1
    ours = tmp_path / "board.md"
    for _ in range(2):  # a report compare wrote is its own to replace
        assert mdrive("compare", ours, f["ramp-eam"], "--format", "md").returncode == 0


def test_two_folders_of_one_potential_and_protocol_are_refused_in_any_order(runs, tmp_path):
    """Which folder's headline a leaderboard shows must not depend on argument order."""
    d, f = runs
    other = tmp_path / "ramp-eam-again"
    shutil.copytree(f["ramp-eam-100GPa"], other)
    for order in ((f["ramp-eam-100GPa"], other), (other, f["ramp-eam-100GPa"]), (other, other)):
        r = mdrive("compare", tmp_path / "board.md", *order, "--format", "md")
        assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.stderr
        assert ("both hold ramp results of eam:Cu_u3.eam" in r.stderr or "is given twice" in r.stderr), r.stderr
    assert not (tmp_path / "board.md").exists()


def test_a_label_with_a_bar_keeps_the_markdown_columns(runs, tmp_path):
    d, f = runs
    out = tmp_path / "board.md"
    r = mdrive("compare", out, f["ramp-eam"], f["ramp-snap"], "--format", "md", "--label", "eam:Cu_u3.eam=Cu | EAM")
    assert r.returncode == 0, r.stderr
    table = markdown_table(out)
    assert "Cu \\| EAM" in table.index, table.index
    widths = {len(re.findall(r"(?<!\\)\|", x)) for x in out.read_text().splitlines() if x.startswith("|")}
    assert len(widths) == 1  # every row has the header's number of columns
