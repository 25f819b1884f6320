"""MACE models pickled under e3nn 0.4.4 (how MACE's foundation models ship), in the one environment that also
runs SevenNet (e3nn >= 0.5; mace-torch pins 0.4.4, and pip cannot install both pins at once).

Under e3nn 0.6 such a file does not load: e3nn's code-generated modules now pickle as (kind, bytes) and
read the old bare bytes as a tuple ("too many values to unpack"), and old pickled modules lack attributes
the new code needs. Converting once fixes both: read the pickle with the old form accepted, rebuild the model
from its own configuration and weights under the installed e3nn (mace-torch's `extract_model`), and save
that. Measured on tests/data/mace-e3nn-0.4.4: energies and forces identical to the bit under e3nn 0.6.
The converted file is cached by the original's path, size and mtime; the original is never touched.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path


def usable(path: Path) -> Path:
    """`path` when it loads under the installed e3nn, else its converted copy (made once, cached)."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()} {stat.st_size} {stat.st_mtime_ns} {_e3nn()}".encode()).hexdigest()[:16]
    from mdrive.plugins import cache_root

    root = cache_root() / "mace-e3nn"
    converted, fine = root / f"{path.stem}-{key}.model", root / f".{path.stem}-{key}.loads"
    if converted.is_file():
        return converted
    if fine.is_file() or _e3nn() < (0, 5):
        return path
    try:
        model, old = _load(path)
    except Exception:  # not a loadable pickle at all: MACE's calculator says what is wrong with it
        return path
    root.mkdir(parents=True, exist_ok=True)
    if not old:
        fine.touch()
        return path
    import torch
    from mace.tools.scripts_utils import extract_model

    tmp = root / f".{converted.name}.{os.getpid()}"
    torch.save(extract_model(model), tmp)
    tmp.replace(converted)
    return converted


def _e3nn() -> tuple[int, ...]:
    from mdrive.plugins import package_version

    return tuple(int(x) for x in (package_version("e3nn") or "0.0").split(".")[:2])


def _load(path: Path):
    """The pickled model, with e3nn 0.4.4's codegen state accepted; and whether any was in that old form."""
    import torch
    from e3nn.util.codegen import _mixin

    seen_old = []
    setstate = _mixin.CodeGenMixin.__setstate__

    def accept_old(self, state):
        codegen = state.get("__codegen__")
        if codegen and any(isinstance(v, bytes) for v in codegen.values()):
            seen_old.append(True)
            state = {**state, "__codegen__": {k: ("torchscript", v) if isinstance(v, bytes) else v
                                              for k, v in codegen.items()}}
        setstate(self, state)

    _mixin.CodeGenMixin.__setstate__ = accept_old
    try:
        with contextlib.suppress(ImportError):
            import mace  # noqa: F401  (registers what torch.load needs to read MACE pickles)
        model = torch.load(path, map_location="cpu", weights_only=False)
    finally:
        _mixin.CodeGenMixin.__setstate__ = setstate
    return model, bool(seen_old)
