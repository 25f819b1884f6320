"""Hermetic tests: mdrive's cache (built plugins, converted models) lives in a folder of this test session's own,
empty at its start and removed at its end, so no test depends on what an earlier session left in ~/.cache. The
variable is set before anything imports mdrive or copies the environment (helpers.ENV), so every mdrive the tests
start (and every Slurm job, which inherits the submitting environment) uses it. Test order is random
(pytest-randomly prints its seed; replay with -p randomly -p 'randomly_seed=N' or --randomly-seed=N)."""
import os
import shutil
import tempfile

CACHE = tempfile.mkdtemp(prefix="mdrive-test-cache-")
os.environ["MDRIVE_CACHE"] = CACHE

import pytest  # noqa: E402
from helpers import copper, write_structures  # noqa: E402


def pytest_unconfigure(config):
    shutil.rmtree(CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def mace_plugin():
    """mdrive's pair_style mace plugin, built once per test session into the session's cache."""
    from mdrive import plugins

    return plugins.library("mace") or plugins.build("mace")


@pytest.fixture(scope="session")
def e3gnn_plugin():
    """SevenNet's pair_style e3gnn as mdrive's plugin, built once per test session into the session's cache."""
    from mdrive import plugins

    return plugins.library("e3gnn") or plugins.build("e3gnn")


@pytest.fixture
def cu_file(tmp_path):
    return write_structures(tmp_path / "cu.extxyz", [copper()])


def pytest_report_collectionfinish(config, start_path, items):
    # shown under -q too (the report header is not): the order of this session, to replay it
    seed = config.getoption("randomly_seed", None)
    if seed is not None and config.pluginmanager.has_plugin("randomly"):
        return f"random test order: replay it with -p randomly --randomly-seed={seed}"
    return None


@pytest.fixture(scope="session")
def nequip_plugin():
    """mdrive's pair_style nequip and allegro plugin, built once per test session into the session's cache."""
    from mdrive import plugins

    return plugins.library("nequip") or plugins.build("nequip")


@pytest.fixture
def float32_torch():
    """torch's default dtype as a fresh process has it (float32): a MACE calculator built in this process by an
    earlier test sets float64, and CHGNet then raises (its float32 weights against float64 inputs)."""
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(before)


def _cluster(tmp_path_factory, nodes: int):
    """A real Slurm of `nodes` nodes for one test module (tests/slurm_cluster.py); its environment."""
    import time

    import slurm_cluster
    from helpers import ENV

    why = slurm_cluster.missing(nodes)
    if why:
        pytest.skip(f"no Slurm here: {why}")
    folder = tmp_path_factory.mktemp(f"slurm{nodes}")
    started = time.perf_counter()
    env = slurm_cluster.start(folder, nodes)
    print(f"\nslurm ({nodes} node(s)) up in {time.perf_counter() - started:.1f} s")
    try:
        yield {**ENV, **env}
    finally:
        started = time.perf_counter()
        slurm_cluster.stop(folder)
        print(f"\nslurm ({nodes} node(s)) stopped in {time.perf_counter() - started:.1f} s")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A real one-node Slurm (localhost)."""
    yield from _cluster(tmp_path_factory, 1)


@pytest.fixture(scope="module")
def slurm_two_nodes(tmp_path_factory):
    """A real two-node Slurm: nodes n1 and n2, each in a network namespace of its own."""
    yield from _cluster(tmp_path_factory, 2)
