import pytest
from helpers import copper, write_structures


@pytest.fixture
def cu_file(tmp_path):
    return write_structures(tmp_path / "cu.extxyz", [copper()])
