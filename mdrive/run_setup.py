"""worker.json: what a run's own process (mdrive.worker) sets up before LAMMPS starts, written by its
supervisor (mdrive.isolation) and read by the process; this module alone writes and reads it."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

SETUP = "worker.json"


@dataclass(frozen=True)
class Setup:
    """What a run's process sets up before LAMMPS starts (worker.json): what its potential needs
    (Potential.worker_setup), the run's LAMMPS arguments (mdrive.ensemble) and how it is supervised
    (mdrive.isolation)."""

    torch_first: bool = False  # load libtorch before liblammps (runtime.load_torch_first)
    bridge: tuple | None = None  # (spec, elements) of a potential computed in Python, rebuilt in this process
    lammps_args: tuple[str, ...] = ()  # e.g. the Kokkos flags of a GPU run
    memory_bytes: int | None = None  # the run's memory budget, all its ranks together
    rank_memory_bytes: int | None = None  # each rank's share of it: the cap of this process
    deadline: float | None = None  # seconds since the epoch
    supervisor: tuple | None = None  # (host, pid) of the rank that started the run
    stop_file: str = ".stop"  # in the run folder: the supervisor's stop request
    driver: str | None = None  # what carries the run on after its deck (run.DRIVERS), e.g. "mc"

    def write(self, run_dir: Path) -> None:
        from mdrive.manifest import write_json

        write_json(run_dir / SETUP, dataclasses.asdict(self))

    @classmethod
    def read(cls, run_dir: Path) -> Setup:
        given = json.loads((run_dir / SETUP).read_text())
        return cls(**{f.name: given[f.name] for f in dataclasses.fields(cls) if f.name in given})
