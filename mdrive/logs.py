"""LAMMPS log parser that never loses a row.

Hand-written because every published reader drops data on real logs (lammps-logfile empties a block at a
WARNING line, pymatgen and LAMMPS's own LogFile drop killed runs; see docs/lammps-notes §11). Design:
the whole file is read once as bytes; each run block is anchored on the "Per MPI rank memory" line that
LAMMPS prints right before thermo output; runs of numeric rows are converted in bulk with numpy, and any
line that is not a row (WARNING, fix halt, colvars, a torn last line) is set aside, never fatal.
"""
from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

_MEMORY = re.compile(rb"^Per MPI rank memory allocation[^\n]*\n", re.M)
_ROWS = re.compile(rb"(?:[ \t]*[-+]?[0-9][^\n]*\n)+")  # consecutive lines that start like a number
_YAML_ROWS = re.compile(rb"(?:[ \t]*- \[[^\n]*\n)+")
_LOOP = re.compile(
    rb"^Loop time of ([-+\d.eE]+) on (\d+) procs for (\d+) steps with (\d+) atoms", re.M)
_PERF_VALUE = re.compile(rb"([-+\d.eE]+|inf|nan) ([kMG]?)([\w/-]+)")
_CPU = re.compile(rb"^([\d.]+)% CPU use with (\d+) MPI tasks x (\d+|no) OpenMP threads", re.M)
_TIMING_ROW = re.compile(
    rb"^(\w+)\s+\|\s*([-\d.eE+]+)?\s*\|\s*([-\d.eE+]+)\s*\|\s*([-\d.eE+]+)?\s*\|\s*([-\d.eE+]+)?\s*\|\s*([-\d.eE+]+)",
    re.M)
_DANGEROUS = re.compile(rb"^Dangerous builds = (\d+)", re.M)
_WARNING = re.compile(rb"^WARNING: ([^\n]*)", re.M)
_ERROR = re.compile(rb"^ERROR(?: on proc \d+)?: ([^\n]*)", re.M)
_LAST_INPUT = re.compile(rb"^Last input line: ([^\n]*)", re.M)
_HALT = re.compile(rb"^Fix halt condition for fix-id (\S+) met on step (\d+)", re.M)
_TOTAL_WALL = re.compile(rb"^Total wall time: ", re.M)
_PREFIX = {b"": 1.0, b"k": 1e3, b"M": 1e6, b"G": 1e9}


@dataclass
class Run:
    """One run or minimize block of a log."""

    thermo: pd.DataFrame
    style: str = "custom"  # custom (one/custom), multi or yaml
    loop_time: float | None = None
    procs: int | None = None
    steps: int | None = None
    atoms: int | None = None
    performance: dict | None = None
    cpu_use: dict | None = None
    timing: pd.DataFrame | None = None
    dangerous_builds: int | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    last_input_line: str | None = None
    halted_by: str | None = None  # fix-id of a `fix halt` that ended the run
    complete: bool = False  # the block reached its "Loop time" line

    @property
    def ended(self) -> str:
        """How the block ended: completed, halted, error or truncated (killed / cut off)."""
        if self.error is not None:
            return "error"
        if self.halted_by is not None:
            return "halted"
        return "completed" if self.complete else "truncated"


@dataclass
class Log:
    path: Path | None
    version: str | None
    runs: list[Run]
    warnings: list[str]  # every warning of the log, in order
    error: str | None
    last_input_line: str | None
    complete: bool  # the log ends with "Total wall time" and no error

    def thermo(self) -> pd.DataFrame:
        """All runs' thermo in one table with a `run` column (0-based block index)."""
        frames = [r.thermo.assign(run=i) for i, r in enumerate(self.runs)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_log(path: str | Path) -> Log:
    """Read one LAMMPS log file; never raises on a truncated or odd log."""
    return parse_log(Path(path).read_bytes(), path=Path(path))


def read_logs(folder: str | Path, pattern: str = "**/log.lammps*") -> pd.DataFrame:
    """Every log under `folder` as one thermo table with `file` and `run` columns."""
    folder = Path(folder)
    frames = [read_log(p).thermo().assign(file=str(p.relative_to(folder)))
              for p in sorted(folder.glob(pattern)) if p.is_file()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def parse_log(text: bytes, path: Path | None = None) -> Log:
    starts = [m.end() for m in _MEMORY.finditer(text)]
    runs, prelude_from = [], 0
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else len(text)
        run, end = _parse_block(text, start, stop)
        # warnings printed while a run is set up (before its thermo) belong to it
        run.warnings = [_decode(w) for w in _WARNING.findall(text, prelude_from, end)]
        runs.append(run)
        prelude_from = end
    errors = _ERROR.findall(text)
    last_input = _LAST_INPUT.findall(text)
    error = _decode(errors[-1]) if errors else None
    return Log(
        path=path,
        version=_decode(text[:text.find(b"\n")]) if text.startswith(b"LAMMPS (") else None,
        runs=runs,
        warnings=[_decode(w) for w in _WARNING.findall(text)],
        error=error,
        last_input_line=_decode(last_input[-1]) if last_input else None,
        complete=error is None and _TOTAL_WALL.search(text) is not None,
    )


def _decode(b: bytes) -> str:
    return b.decode("utf-8", "replace").strip()


def _parse_block(text: bytes, start: int, stop: int) -> tuple[Run, int]:
    """One block from its memory line to the next; returns it and where its footer ends."""
    header_end = text.find(b"\n", start)
    header_end = stop if header_end < 0 or header_end > stop else header_end
    header = text[start:header_end].strip()
    if header == b"---" or header.startswith(b"keywords:"):
        thermo, pos, notes = _yaml_block(text, start, stop)
        style = "yaml"
    elif header.startswith(b"-----"):
        thermo, pos, notes = _multi_block(text, start, stop)
        style = "multi"
    else:
        thermo, pos, notes = _rows_block(text, header, header_end + 1, stop)
        style = "custom"
    run = Run(thermo=thermo, style=style)
    end = _read_footer(run, text, pos, stop)
    for line in notes:
        halt = _HALT.match(line)
        if halt:
            run.halted_by = _decode(halt.group(1))
    return run, end


def _rows_block(text: bytes, header: bytes, pos: int, stop: int):
    """one/custom thermo: a header line, then numeric rows until "Loop time", an ERROR or the end."""
    names = [_decode(n) for n in header.split()]
    chunks, notes = [], []
    while pos < stop:
        m = _ROWS.match(text, pos, stop)
        if m:
            chunks.append(m.group())
            pos = m.end()
            continue
        line_end = text.find(b"\n", pos, stop)
        line = text[pos:stop if line_end < 0 else line_end]
        if line.startswith((b"Loop time", b"ERROR")) or line.startswith(b"Per MPI"):
            break
        if line_end < 0:  # a torn last line that does not start like a number
            pos = stop
            break
        notes.append(line)
        pos = line_end + 1
    return _frame(names, chunks), pos, notes + _halt_lines(text, pos, stop)


def _yaml_block(text: bytes, start: int, stop: int):
    kw_at = text.find(b"keywords:", start, stop)
    if kw_at < 0:
        return pd.DataFrame(), stop, []
    kw_end = text.find(b"\n", kw_at, stop)
    try:
        names = ast.literal_eval(_decode(text[kw_at + 9:kw_end if kw_end > 0 else stop]))
    except (ValueError, SyntaxError):
        names = []
    data_at = text.find(b"data:", kw_at, stop)
    pos = stop if data_at < 0 else text.find(b"\n", data_at, stop) + 1
    chunks = []
    m = _YAML_ROWS.match(text, pos, stop) if pos > 0 else None
    while m:
        chunks.append(m.group().replace(b"- [", b" ").replace(b"]", b" ").replace(b",", b" "))
        pos = m.end()
        # a WARNING may sit between YAML rows, as between plain rows
        nxt = text.find(b"\n", pos, stop)
        if nxt > 0 and text.startswith(b"WARNING", pos):
            pos = nxt + 1
            m = _YAML_ROWS.match(text, pos, stop)
        else:
            m = None
    return _frame([str(n) for n in names], chunks), pos, _halt_lines(text, pos, stop)


def _multi_block(text: bytes, start: int, stop: int):
    """thermo_style multi: '---- Step N ----- CPU = t (sec) ----' then 'Name = value' triples."""
    end = _LOOP.search(text, start, stop)
    body = text[start:end.start() if end else stop]
    rows = []
    for record in re.split(rb"-+ Step\s+", body)[1:]:
        head, _, rest = record.partition(b"\n")
        row = {"Step": float(head.split()[0])}
        cpu = re.search(rb"CPU = ([-\d.eE+]+)", head)
        if cpu:
            row["CPU"] = float(cpu.group(1))
        for name, value in re.findall(rb"(\S+)\s+=\s+(\S+)", rest):
            row[_decode(name)] = _to_float(value)
        rows.append(row)
    pos = end.start() if end else stop
    return pd.DataFrame(rows), pos, _halt_lines(text, start, stop)


def _halt_lines(text: bytes, pos: int, stop: int) -> list[bytes]:
    return [m.group() for m in _HALT.finditer(text, pos, stop)]


def _to_float(value: bytes) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def _frame(names: list[str], chunks: list[bytes]) -> pd.DataFrame:
    ncols = len(names)
    if ncols == 0:
        return pd.DataFrame()
    rows = [_to_rows(chunk, ncols) for chunk in chunks]
    data = np.vstack(rows) if rows else np.empty((0, ncols))
    frame = pd.DataFrame(data, columns=_unique(names))
    if "Step" in frame and len(frame):
        frame["Step"] = frame["Step"].astype("int64")
    return frame


def _to_rows(chunk: bytes, ncols: int) -> np.ndarray:
    """Bulk conversion; if the chunk is damaged, keep every line that is a whole row."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(chunk, sep=" ")
            whole = chunk.endswith(b"\n") and values.size % ncols == 0
            if whole and values.size == ncols * chunk.count(b"\n"):
                return values.reshape(-1, ncols)
        except (ValueError, DeprecationWarning):
            pass
    rows = []
    lines = chunk.split(b"\n")
    if not chunk.endswith(b"\n"):
        lines = lines[:-1]  # a torn last line is not a row
    for line in lines:
        fields = line.split()
        if len(fields) != ncols:
            continue
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            continue
    return np.array(rows, dtype=float).reshape(-1, ncols)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}.{seen[n] - 1}")
    return out


def _read_footer(run: Run, text: bytes, pos: int, stop: int) -> int:
    """Loop time, Performance, CPU use, timing table, Dangerous builds, or the ERROR that cut the run."""
    loop = _LOOP.search(text, pos, stop)
    err = _ERROR.search(text, pos, loop.start() if loop else stop)
    if err:
        run.error = _decode(err.group(1))
        last = _LAST_INPUT.search(text, err.end(), stop)
        run.last_input_line = _decode(last.group(1)) if last else None
    if not loop:
        return stop
    run.complete = True
    run.loop_time = float(loop.group(1))
    run.procs, run.steps, run.atoms = (int(loop.group(k)) for k in (2, 3, 4))
    end = _DANGEROUS.search(text, loop.end(), stop)
    end_at = end.end() if end else stop
    perf_at = text.find(b"Performance:", loop.end(), end_at)
    if perf_at >= 0:
        line = text[perf_at + 12:text.find(b"\n", perf_at, stop)]
        run.performance = {_decode(unit): _to_float(value) * _PREFIX[prefix]
                           for value, prefix, unit in _PERF_VALUE.findall(line)}
    cpu = _CPU.search(text, loop.end(), end_at)
    if cpu:
        threads = cpu.group(3)
        run.cpu_use = {"percent": float(cpu.group(1)), "mpi_tasks": int(cpu.group(2)),
                       "threads": 0 if threads == b"no" else int(threads)}
    run.timing = _timing(text, loop.end(), end_at)
    run.dangerous_builds = int(end.group(1)) if end else None
    return end_at


def _timing(text: bytes, start: int, stop: int) -> pd.DataFrame | None:
    at = text.find(b"MPI task timing breakdown:", start, stop)
    if at < 0:
        return None
    end = text.find(b"\n\n", at, stop)
    rows = []
    for m in _TIMING_ROW.finditer(text, at, stop if end < 0 else end):
        section, tmin, tavg, tmax, varavg, total = m.groups()
        rows.append({"section": _decode(section),
                     "min": _num(tmin), "avg": _num(tavg), "max": _num(tmax),
                     "varavg": _num(varavg), "total": _num(total)})
    return pd.DataFrame(rows).set_index("section") if rows else None


def _num(b: bytes | None) -> float:
    return float(b) if b else float("nan")
