"""LAMMPS log parser that never loses a row.

Hand-written because every published reader drops data on real logs (lammps-logfile empties a block at a
WARNING line, pymatgen and LAMMPS's own LogFile drop killed runs; see docs/lammps-notes §11). Design:
the file is memory-mapped, not copied; each run block is anchored on the "Per MPI rank memory" line that
LAMMPS prints right before thermo output; runs of numeric rows are read by a small C scanner
(mdrive/_rowscan.c, with a Python fallback giving the same rows), and any line that is not a row (WARNING,
fix halt, colvars, a torn last line) is set aside, never fatal. Markers (WARNING, ERROR, ...) are searched
only in the text between row runs, so the bulk of a log is read exactly once.
"""
from __future__ import annotations

import ast
import mmap
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

try:
    from mdrive._rowscan import scan as _scan_compiled
except ImportError:  # installed without a C compiler: the Python scanner reads the same rows, slower
    _scan_compiled = None

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
    path = Path(path)
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return parse_log(b"", path)
        # mapped rather than read: a copy of a 100 MB log costs as much as parsing it. LAMMPS only appends
        # to an open log; a log truncated by another process while it is read here would fault (SIGBUS).
        with mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                       prot=mmap.PROT_READ) as text:
            return parse_log(text, path)


def read_logs(folder: str | Path, pattern: str = "**/log.lammps*") -> pd.DataFrame:
    """Every log under `folder` as one thermo table with `file` and `run` columns."""
    folder = Path(folder)
    frames = [read_log(p).thermo().assign(file=str(p.relative_to(folder)))
              for p in sorted(folder.glob(pattern)) if p.is_file()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def parse_log(text: bytes | mmap.mmap, path: Path | None = None) -> Log:
    """Markers are matched with the newline before them, at the text's start as if one preceded it."""
    line_ends = [text.find(b"\n", at + 1) for at in _find_all(text, b"\nPer MPI rank memory allocation")]
    starts = [end + 1 for end in line_ends if end >= 0]  # a torn memory line starts no block
    runs, row_spans, prelude_from = [], [], 0
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else len(text)
        run, end, spans = _parse_block(text, start, stop)
        # warnings printed while a run is set up (before its thermo) belong to it
        run.warnings = _lines_after(text, b"\nWARNING: ", _between(spans, prelude_from, end))
        runs.append(run)
        row_spans += spans
        prelude_from = end
    rest = _between(row_spans, 0, len(text))
    error = _last_line_after(text, b"\nERROR", rest)
    if error is not None:
        error = error.split(": ", 1)[-1]  # "ERROR: text" or "ERROR on proc N: text"
    return Log(
        path=path,
        version=_rest_of_line(text, 0) if text[:8] == b"LAMMPS (" else None,
        runs=runs,
        warnings=[w for r in runs for w in r.warnings]
        + _lines_after(text, b"\nWARNING: ", [(prelude_from, len(text))]),
        error=error,
        last_input_line=_last_line_after(text, b"\nLast input line: ", rest),
        complete=error is None and any(_find_all(text, b"\nTotal wall time: ", *r) for r in rest),
    )


def _between(spans: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The ranges of text[start:end] outside the row spans, each from the newline before its first line."""
    out, at = [], start
    for a, b in spans:
        if a > at:
            out.append((max(at - 1, 0), a))
        at = max(at, b)
    if at < end:
        out.append((max(at - 1, 0), end))
    return out


def _find_all(text: bytes, marker: bytes, start: int = 0, end: int | None = None) -> list[int]:
    """Every position of `marker` (starting with a newline) in text[start:end], by bytes.find (far faster than
    a regex scan); -1 for a marker that opens the text, as if a newline preceded it."""
    end = len(text) if end is None else end
    out = [-1] if start == 0 and _opens(text, marker) else []
    at = text.find(marker, start, end)
    while at >= 0:
        out.append(at)
        at = text.find(marker, at + len(marker), end)
    return out


def _opens(text: bytes, marker: bytes) -> bool:
    return text[:len(marker) - 1] == marker[1:]


def _rest_of_line(text: bytes, at: int) -> str:
    end = text.find(b"\n", at)
    return _decode(text[at:end if end >= 0 else len(text)])


def _last_line_after(text: bytes, marker: bytes, ranges: list[tuple[int, int]]) -> str | None:
    for start, end in reversed(ranges):
        at = text.rfind(marker, start, end)
        if at >= 0 or (start == 0 and _opens(text, marker)):
            return _rest_of_line(text, at + len(marker))
    return None


def _lines_after(text: bytes, marker: bytes, ranges: list[tuple[int, int]]) -> list[str]:
    """The rest of every line that starts with `marker` (which begins with a newline)."""
    return [_rest_of_line(text, at + len(marker)) for start, end in ranges
            for at in _find_all(text, marker, start, end)]


def _decode(b: bytes) -> str:
    return b.decode("utf-8", "replace").strip()


def _parse_block(text: bytes, start: int, stop: int) -> tuple[Run, int, list[tuple[int, int]]]:
    """One block from its memory line to the next; returns it, where its footer ends and its row spans."""
    header_end = text.find(b"\n", start)  # `start` is just past the memory line's newline
    header_end = stop if header_end < 0 or header_end > stop else header_end
    header = text[start:header_end].strip()
    spans = []
    if header == b"---" or header.startswith(b"keywords:"):
        thermo, pos, notes = _yaml_block(text, start, stop)
        style = "yaml"
    elif header.startswith(b"-----"):
        thermo, pos, notes = _multi_block(text, start, stop)
        style = "multi"
    else:
        thermo, pos, notes, spans = _rows_block(text, header, header_end + 1, stop)
        style = "custom"
    run = Run(thermo=thermo, style=style)
    end = _read_footer(run, text, pos, stop)
    for line in notes:
        halt = _HALT.match(line)
        if halt:
            run.halted_by = _decode(halt.group(1))
    return run, end, spans


def _rows_block(text: bytes, header: bytes, pos: int, stop: int):
    """one/custom thermo: a header line, then numeric rows until "Loop time", an ERROR or the end."""
    names = [_decode(n) for n in header.split()]
    blocks, spans, notes, pos = _read_rows(text, pos, stop, len(names))
    return _frame(names, blocks), pos, notes + _halt_lines(text, pos, stop), spans


def _read_rows(text: bytes, pos: int, stop: int, ncols: int):
    """Row runs from `pos`, setting aside the lines between them (notes), until a line that ends the
    block ("Loop time", ERROR, the next "Per MPI") or `stop`: (row blocks, their spans, notes, end)."""
    blocks, spans, notes = [], [], []
    while pos < stop:
        rows, end = _scan_rows(text, pos, stop, ncols)
        if end > pos:
            blocks.append(rows)
            spans.append((pos, end))
            pos = end
            continue  # the scanner may stop at a full buffer: ask again until it stops at a line
        line_end = text.find(b"\n", pos, stop)
        line = text[pos:stop if line_end < 0 else line_end]
        if line.startswith((b"Loop time", b"ERROR", b"Per MPI")):
            break
        if line_end < 0:  # the end, or a torn last line
            pos = stop
            break
        notes.append(line)
        pos = line_end + 1
    return blocks, spans, notes, pos


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
        if nxt > 0 and text[pos:pos + 7] == b"WARNING":
            pos = nxt + 1
            m = _YAML_ROWS.match(text, pos, stop)
        else:
            m = None
    blocks = [block for chunk in chunks for block in _read_rows(chunk, 0, len(chunk), len(names))[0]]
    return _frame([str(n) for n in names], blocks), pos, _halt_lines(text, pos, stop)


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


def _frame(names: list[str], blocks: list[np.ndarray]) -> pd.DataFrame:
    ncols = len(names)
    if ncols == 0:
        return pd.DataFrame()
    data = np.empty((0, ncols)) if not blocks else blocks[0] if len(blocks) == 1 else np.vstack(blocks)
    frame = pd.DataFrame(data, columns=pd.Index(_unique(names), dtype=object), copy=False)
    if "Step" in frame and len(frame):
        frame["Step"] = frame["Step"].astype("int64")
    return frame


def _scan_rows(text: bytes, pos: int, stop: int, ncols: int) -> tuple[np.ndarray, int]:
    """Whole lines from `pos` (a line start) while each holds exactly `ncols` numbers: their values, and
    where the first line that does not (or a torn last line) starts; the compiled scanner may also stop
    early at a row, when rows run longer than it sized its output for."""
    if ncols < 1:
        return np.empty((0, 0)), pos
    if _scan_compiled is not None:
        values, rows, end = _scan_compiled(text, pos, stop, ncols)
        return np.frombuffer(values).reshape(rows, ncols), end
    rows = []
    while (eol := text.find(b"\n", pos, stop)) >= 0:
        fields = text[pos:eol].split()
        if len(fields) != ncols:
            break
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            break
        pos = eol + 1
    return np.array(rows, dtype=float).reshape(-1, ncols), pos


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
