"""A protocol declared here, in the test folder, and nowhere in mdrive: the energy per atom of each structure (one
`run 0` each). `python tests/toy_protocol.py toy STRUCTURES --potential SPEC --out DIR` registers it and runs it
through mdrive's own command line and driver; tests/test_results_contract.py then sees its number in compare."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import pandas as pd

from mdrive import decks, study_kinds
from mdrive.jobs import Job, read_run_log
from mdrive.manifest import write_text
from mdrive.protocol import Protocol, RunOptions, Study, read_structures
from mdrive.study_kinds import Metric

TABLE = "toy.csv"


@dataclass(frozen=True)
class ToyParams:
    def check(self) -> None:
        pass


class ToyHeadline(TypedDict):
    structures: int
    energy_per_atom: float | None  # eV/atom, mean over the structures


class Toy(Protocol):
    name = "toy"
    help = "energy per atom of each structure (a test's protocol)"
    description = "One single point per structure; the headline is their mean energy per atom."
    params = ToyParams
    outputs = (TABLE,)
    headline = ToyHeadline
    metrics = (Metric("toy_energy", "toy E (eV/atom)", better="lower"),)

    def plan(self, params: ToyParams, run: RunOptions) -> Study:
        potential = run.load_potential("eam:Cu_u3.eam")
        structs, _ = read_structures(run, potential)
        jobs = [Job(s.name, decks.composer("single.in", {}, potential=potential, structure=s),
                    {"structure": s.name, "n_atoms": len(s.atoms)}, worker=potential.worker_setup(s.elements),
                    templates=("single.in",)) for s in structs]
        return Study(jobs, potential, structs)

    def analyze(self, run_dir: Path, info: dict, error: str | None) -> dict:
        log, error = read_run_log(run_dir, error)
        if error or log is None or not log.runs or log.runs[0].thermo.empty:
            return {**info, "status": "error", "cause": error or "no thermo row"}
        row = log.runs[0].thermo.iloc[0]
        return {**info, "status": "valid", "energy_per_atom": float(row["PotEng"] / row["Atoms"])}

    def summarize(self, out: Path, rows: list[dict], params: ToyParams) -> tuple[str, ToyHeadline]:
        table = pd.DataFrame(rows).sort_values("structure")
        write_text(out / TABLE, table.to_csv(index=False))
        valid = table[table["status"] == "valid"]
        head = ToyHeadline(structures=len(table), energy_per_atom=float(valid["energy_per_atom"].mean())
                           if len(valid) else None)
        return f"toy: {head['energy_per_atom']} eV/atom over {len(valid)} structures", head

    def scores(self, headline: Mapping, parameters: Mapping) -> dict:
        return {"toy_energy": headline.get("energy_per_atom")}


KIND = Toy()
study_kinds.register(KIND)

if __name__ == "__main__":
    from mdrive.cli import main

    sys.exit(main())
