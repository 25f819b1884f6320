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
import pyarrow as pa
import pyarrow.compute as pc

_ROW_START = re.compile(rb"[ \t]*[-+]?[0-9]")  # a thermo row starts like a number
_NOT_ROW = re.compile(rb"\n[ \t]*[^-+0-9 \t\n]")  # the next line that does not
_YAML_ROWS = re.compile(rb"(?:[ \t]*- \[[^\n]*\n)+")
_LOOP = re.compile(rb"\nLoop time of ([-+\d.eE]+) on (\d+) procs for (\d+) steps with (\d+) atoms")
_PERF_VALUE = re.compile(rb"([-+\d.eE]+|inf|nan) ([kMG]?)([\w/-]+)")
_CPU = re.compile(rb"\n([\d.]+)% CPU use with (\d+) MPI tasks x (\d+|no) OpenMP threads")
_TIMING_ROW = re.compile(
    rb"^(\w+)\s+\|\s*([-\d.eE+]+)?\s*\|\s*([-\d.eE+]+)\s*\|\s*([-\d.eE+]+)?\s*\|\s*([-\d.eE+]+)?\s*\|\s*([-\d.eE+]+)",
    re.M)
_DANGEROUS = re.compile(rb"\nDangerous builds = (\d+)")
_ERROR = re.compile(rb"\nERROR(?: on proc \d+)?: ([^\n]*)")
_LAST_INPUT = re.compile(rb"\nLast input line: ([^\n]*)")
_HALT = re.compile(rb"\n?Fix halt condition for fix-id (\S+) met on step (\d+)")
_TOTAL_WALL = re.compile(rb"\nTotal wall time: ")
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
    text = b"\n" + text  # every pattern is anchored on a newline, the first line's included
    line_ends = [text.find(b"\n", at + 1) for at in _find_all(text, b"\nPer MPI rank memory allocation")]
    starts = [end + 1 for end in line_ends if end >= 0]  # a torn memory line starts no block
    runs, prelude_from = [], 0
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else len(text)
        run, end = _parse_block(text, start, stop)
        # warnings printed while a run is set up (before its thermo) belong to it
        run.warnings = _lines_after(text, b"\nWARNING: ", prelude_from, end)
        runs.append(run)
        prelude_from = end
    error = _last_line_after(text, b"\nERROR")
    if error is not None:
        error = error.split(": ", 1)[-1]  # "ERROR: text" or "ERROR on proc N: text"
    last_input = _last_line_after(text, b"\nLast input line: ")
    return Log(
        path=path,
        version=_decode(text[1:text.find(b"\n", 1)]) if text.startswith(b"\nLAMMPS (") else None,
        runs=runs,
        warnings=[w for r in runs for w in r.warnings] + _lines_after(text, b"\nWARNING: ", prelude_from, len(text)),
        error=error,
        last_input_line=last_input,
        complete=error is None and _TOTAL_WALL.search(text) is not None,
    )


def _find_all(text: bytes, marker: bytes, start: int = 0, end: int | None = None) -> list[int]:
    """Every position of `marker` in text[start:end], by bytes.find (far faster than a regex scan)."""
    end = len(text) if end is None else end
    out, at = [], text.find(marker, start, end)
    while at >= 0:
        out.append(at)
        at = text.find(marker, at + len(marker), end)
    return out


def _rest_of_line(text: bytes, at: int) -> str:
    end = text.find(b"\n", at)
    return _decode(text[at:end if end >= 0 else len(text)])


def _last_line_after(text: bytes, marker: bytes) -> str | None:
    at = text.rfind(marker)
    return None if at < 0 else _rest_of_line(text, at + len(marker))


def _lines_after(text: bytes, marker: bytes, start: int, end: int) -> list[str]:
    """The rest of every line that starts with `marker` (which begins with a newline)."""
    return [_rest_of_line(text, at + len(marker)) for at in _find_all(text, marker, start, end)]


def _decode(b: bytes) -> str:
    return b.decode("utf-8", "replace").strip()


def _parse_block(text: bytes, start: int, stop: int) -> tuple[Run, int]:
    """One block from its memory line to the next; returns it and where its footer ends."""
    header_end = text.find(b"\n", start)  # `start` is just past the memory line's newline
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
        if _ROW_START.match(text, pos, stop):
            other = _NOT_ROW.search(text, pos - 1, stop)
            end = other.start() + 1 if other else text.rfind(b"\n", pos, stop) + 1
            if end > pos:
                chunks.append(text[pos:end])
                pos = end
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
    frame = pd.DataFrame(data, columns=pd.Index(_unique(names), dtype=object))
    if "Step" in frame and len(frame):
        frame["Step"] = frame["Step"].astype("int64")
    return frame


def _to_rows(chunk: bytes, ncols: int) -> np.ndarray:
    """Bulk conversion; if the chunk is damaged, keep every line that is a whole row."""
    fixed = _fixed_width_rows(chunk, ncols)
    if fixed is not None:
        return fixed
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


def _fixed_width_rows(chunk: bytes, ncols: int) -> np.ndarray | None:
    """Fast path for LAMMPS's fixed-width thermo rows (every row the same length, columns at the same
    places): one Arrow string array over the chunk, a value per column start, cast to float in C++.
    numpy parses text at ~40 MB/s; this runs at several hundred."""
    width = chunk.find(b"\n") + 1
    if width < 2 or len(chunk) % width:
        return None
    rows = len(chunk) // width
    grid = np.frombuffer(chunk, dtype=np.uint8).reshape(rows, width)
    if not (grid[:, -1] == 10).all():
        return None
    filled = (grid[:, :-1] != 32).any(axis=0).astype(np.int8)
    starts = np.flatnonzero(np.diff(filled, prepend=0) == 1)
    if len(starts) != ncols:
        return None
    offsets = (np.arange(rows, dtype=np.int64)[:, None] * width + starts[None, :]).ravel()
    offsets[0] = 0
    offsets = np.append(offsets, len(chunk))
    if offsets[-1] >= 2 ** 31:
        return None
    strings = pa.StringArray.from_buffers(rows * ncols, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(chunk))
    try:
        values = pc.cast(pc.ascii_trim(strings, " \n"), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return values.to_numpy(zero_copy_only=False).reshape(rows, ncols)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}.{seen[n] - 1}")
    return out


def _read_footer(run: Run, text: bytes, pos: int, stop: int) -> int:
    """Loop time, Performance, CPU use, timing table, Dangerous builds, or the ERROR that cut the run."""
    pos = max(pos - 1, 0)  # patterns start at the newline before their line
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
    rows = _TIMING_ROW.findall(text, at, stop if end < 0 else end)
    if not rows:
        return None
    values = np.array([[_num(v) for v in row[1:]] for row in rows])
    return pd.DataFrame(values, columns=pd.Index(["min", "avg", "max", "varavg", "total"], dtype=object),
                        index=pd.Index([_decode(r[0]) for r in rows], dtype=object, name="section"))


def _num(b: bytes | None) -> float:
    return float(b) if b else float("nan")
