"""Runs many bad-input cases in one process (one MPI start, one import of LAMMPS and ASE) and writes what
each gave: exit code, stderr, stdout, seconds, and the files it left. Used by test_bad_input.py."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def main(cases_path: str, root: str) -> None:
    from mdrive import cli

    root = Path(root)
    os.chdir(root)
    results = []
    for argv in json.loads(Path(cases_path).read_text()):
        before = files(root)
        err, out = io.StringIO(), io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = cli.main(argv)
            except SystemExit as exc:
                code = exc.code
            except Exception as exc:  # a traceback for user input is a defect: record it as such
                code, err = 1, io.StringIO(f"traceback: {type(exc).__name__}: {exc}")
        results.append({"code": code, "stderr": err.getvalue(), "stdout": out.getvalue(),
                        "seconds": time.perf_counter() - start,
                        "new_files": sorted(set(files(root)) - set(before))})
    Path(cases_path).with_suffix(".out.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
