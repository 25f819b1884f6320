"""GPU mode without a GPU: the Kokkos command line and deck for every style (golden), every refusal, the
cmake presets. CI has no Kokkos build, so a fake build object stands in for one where a rule needs it."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import ROOT, copper, mdrive, nequip_stub, write_structures

from mdrive import gpu
from mdrive.decks import compose
from mdrive.ensemble import note_command
from mdrive.errors import InputError
from mdrive.potentials import load
from mdrive.runtime import Build, build
from mdrive.structures import Structure

HALF = ["newton", "on", "neigh", "half"]
KK = ["-k", "on", "g", "1", "-sf", "kk", "-pk", "kokkos", *HALF]
RAMP_FIXES = {"npt", "halt", "external"}


def kokkos_build(styles=("mace", "mliap", "symmetrix/mace", "nequip", "allegro", "pace", "eam"), version=20260301):
    return Build(version=version, packages=("KOKKOS", "ML-IAP", "PYTHON"), pair_styles=frozenset(styles),
                 fix_styles=frozenset(), accelerators={"KOKKOS": {"api": ["cuda", "serial"]}},
                 has_gpu_device=True, mpi_support=True)


@pytest.fixture
def models(tmp_path):
    """Empty files with the names each MLIP route recognises (the rules read names, not weights)."""
    names = {"mace": "m.model-lammps.pt", "mliap": "m.model-mliap_lammps.pt", "symmetrix": "m-29.json",
             "nequip": "m.nequip.pt2", "allegro": "a.nequip.pt2", "pace": "cu.yace"}
    for key, name in names.items():
        (tmp_path / name).write_text("elements: [Cu]\n" if key == "pace" else "x")
    nequip_stub(tmp_path / names["nequip"], "pair_nequip")  # mdrive reads a compiled model's declared target
    nequip_stub(tmp_path / names["allegro"], "pair_allegro")
    return {k: str(tmp_path / n) for k, n in names.items()}


@pytest.mark.parametrize("spec,expected", [
    ("mace:{mace}", KK), ("mace:{mliap}", KK), ("mace:{symmetrix}", KK), ("allegro:{allegro}", KK),
    ("pace:{pace}", KK), ("eam:Cu_u3.eam", KK), ("snap:W_2940_2017_2", KK), ("nequip:{nequip}", []),
])
def test_golden_command_line_per_style(models, spec, expected):
    potential = load(spec.format(**models), "native")
    plan = gpu.plan(potential, 1, 1, 20260301, RAMP_FIXES)
    assert plan.args == expected
    assert any("fix halt has no Kokkos variant" in w for w in plan.warnings) == bool(expected)
    if not expected:  # nequip: no Kokkos variant, libtorch drives the GPU itself
        assert "no Kokkos variant" in plan.warnings[0] and potential.newton == "off" and not potential.multi_rank


def test_two_gpus_per_run_turn_gpu_aware_mpi_off_and_warn_per_style(models):
    plan = gpu.plan(load(f"mace:{models['mace']}", "native"), 2, 2, 20260301)
    assert plan.args == ["-k", "on", "g", "2", "-sf", "kk", "-pk", "kokkos", *HALF, "gpu/aware", "off"]
    assert "CUDA device 0" in plan.warnings[0]
    assert "mace #1294" in gpu.plan(load(f"mace:{models['mliap']}", "native"), 2, 2, 20260301).warnings[0]
    assert "#45" in gpu.plan(load(f"allegro:{models['allegro']}", "native"), 2, 2, 20260301).warnings[0]
    assert gpu.plan(load("eam:Cu_u3.eam"), 2, 2, 20260301, gpu_aware=True).args[-4:] == HALF


@pytest.mark.parametrize("spec,gpus,ranks,version,needle", [
    ("pace:{pace}?recursive", 1, 1, 20260301, "needs 'product', not 'recursive'"),
    ("mace:{mliap}", 1, 1, 20250722, "needs LAMMPS develop newer than 15 Dec 2025"),
    ("eam:Cu_u3.eam", 2, 4, 20260301, "one MPI rank per GPU"),
    ("pod:Ta_param.pod,Ta_coeff.pod", 1, 1, 20260301, "has no Kokkos style"),
    ("ase:ase.calculators.emt:EMT", 1, 1, 20260301, "evaluates the model in Python"),
])
def test_refusals(models, spec, gpus, ranks, version, needle):
    with pytest.raises(InputError) as err:
        gpu.plan(load(spec.format(**models), "native"), gpus, ranks, version)
    assert needle in str(err.value)


@pytest.mark.parametrize("spec,style", [("nequip:{nequip}", "nequip"),
                                        ("mace:{mace}?no_domain_decomposition", "mace no_domain_decomposition")])
def test_one_rank_styles_refused_on_two_ranks_even_on_cpus(models, spec, style):
    potential = load(spec.format(**models), "native")
    with pytest.raises(InputError) as err:
        potential.check_build(kokkos_build(), ranks_per_run=2)
    assert "runs on one MPI rank only" in str(err.value)
    assert f"pair_style {style}" in potential.lines(["Cu"])


def test_the_wheel_is_refused_for_gpu_runs_with_the_preset_to_build(tmp_path):
    with pytest.raises(InputError) as err:
        gpu.check_build(build(), 1)
    assert "no Kokkos GPU backend" in str(err.value) and "mdrive-kokkos-cuda" in str(err.value)
    gpu.check_build(kokkos_build(), 1)  # a Kokkos CUDA build with a device passes
    src = write_structures(tmp_path / "cu.extxyz", [copper()])
    r = mdrive("ramp", src, "--potential", "eam:Cu_u3.eam", "--gpus", "1", "--out", tmp_path / "out")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no Kokkos GPU backend" in r.stderr
    assert not (tmp_path / "out").exists()


def test_golden_gpu_deck_keeps_the_template_and_names_the_command(tmp_path):
    potential = load("eam:Cu_u3.eam")
    compose(tmp_path, "ramp-nvt.in", {"seed": 1, "t_start": 300, "t_stop": 600, "steps": 10, "dt": 0.002,
                                      "tdamp": 0.025, "thermo_every": 10}, potential,
            Structure("cu", copper(), "test"))
    plan = gpu.plan(potential, 1, 1, 20260301, gpu.deck_fixes([ROOT / "inputs" / "ramp-nvt.in"]))
    note_command(tmp_path, plan.args)
    deck = (tmp_path / "in.lammps").read_text().splitlines()
    assert deck[0] == "# GPU run: lmp -k on g 1 -sf kk -pk kokkos newton on neigh half -in in.lammps"
    assert deck[1].startswith("# composed by mdrive from inputs/ramp-nvt.in")
    assert "pair_style eam" in (tmp_path / "potential.in").read_text()  # -sf kk adds /kk at run time
    assert sorted(w.split()[1] for w in plan.warnings) == ["halt"]


def test_mc_fixes_are_flagged_on_gpus():
    fixes = gpu.deck_fixes([ROOT / "inputs" / "gcmc.in", ROOT / "inputs" / "mdrive-hooks.in"])
    warnings = gpu.plan(load("eam:Cu_u3.eam"), 1, 1, 20260301, fixes).warnings
    flagged = {w.split()[1] for w in warnings}
    assert {"gcmc", "atom/swap", "halt", "external"} <= flagged and "nvt" not in flagged


PRESETS = sorted((ROOT / "cmake" / "presets").glob("*.cmake"))


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
@pytest.mark.parametrize("accelerator", ["mdrive-kokkos-cuda-ampere.cmake", "mdrive-kokkos-cuda-hopper.cmake",
                                         "mdrive-kokkos-openmp.cmake"])
def test_presets_configure_a_dummy_project(tmp_path, accelerator):
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(dummy NONE)\n"
        "foreach(v PKG_KOKKOS Kokkos_ENABLE_CUDA Kokkos_ENABLE_OPENMP Kokkos_ARCH_AMPERE80 Kokkos_ARCH_HOPPER90 "
        "PKG_MC PKG_ML-IAP PKG_ML-PACE PKG_ML-MACE MLIAP_ENABLE_PYTHON NEQUIP_AOT_COMPILE SYMMETRIX_KOKKOS "
        "BUILD_MPI BUILD_SHARED_LIBS)\n  message(STATUS \"${v}=${${v}}\")\nendforeach()\n")
    routes = [p for p in PRESETS if p.name != "mdrive-base.cmake" and "kokkos" not in p.name]
    args = ["-C", str(ROOT / "cmake" / "presets" / "mdrive-base.cmake"),
            "-C", str(ROOT / "cmake" / "presets" / accelerator)]
    for p in routes:
        args += ["-C", str(p)]
    r = subprocess.run(["cmake", *args, "-S", str(tmp_path), "-B", str(tmp_path / "b")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    values = dict(line.split("-- ", 1)[1].split("=", 1) for line in r.stdout.splitlines() if "=" in line and "-- " in line)
    assert values["PKG_KOKKOS"] == "ON" and values["PKG_MC"] == "ON" and values["BUILD_MPI"] == "ON"
    assert values["PKG_ML-PACE"] == values["PKG_ML-MACE"] == values["MLIAP_ENABLE_PYTHON"] == "ON"
    assert values["NEQUIP_AOT_COMPILE"] == values["SYMMETRIX_KOKKOS"] == "ON"
    cuda = "cuda" in accelerator
    assert (values["Kokkos_ENABLE_CUDA"] == "ON") == cuda and (values["Kokkos_ENABLE_OPENMP"] == "ON") != cuda
    assert (values["Kokkos_ARCH_HOPPER90"] == "ON") == ("hopper" in accelerator)


def test_info_points_missing_styles_to_their_preset():
    from mdrive.commands.info import report
    from mdrive.potentials.families import build_hint

    routes = {r["adapter"]: r for r in report()["routes"]}
    for adapter, style, preset in [("pace", "pace", "mdrive-pace.cmake"),
                                   ("nequip", "nequip", "mdrive-nequip-allegro.cmake"),
                                   ("mace (symmetrix)", "symmetrix/mace", "mdrive-symmetrix.cmake")]:
        assert preset in build_hint(style)
        why = routes[adapter]["why_not"]  # nequip runs on the wheel once mdrive's plugin of it is built
        assert routes[adapter]["runs"] if why is None else preset in why
        assert (ROOT / "cmake" / "presets" / preset).is_file()
    assert Path(ROOT / "cmake" / "README.md").read_text().count("cmake -C $P/mdrive-base.cmake") >= 5
