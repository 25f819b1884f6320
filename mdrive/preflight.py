"""Before any run, each potential's lines go through LAMMPS once, on an empty box of the study's atom types,
in a process of their own (a crash there costs nothing): a pair_coeff or file LAMMPS rejects is then one
line of bad input, not as many failed runs as there are structures."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from mdrive.errors import InputError

TIMEOUT_S = 60
MARK = "mdrive-preflight:"


def check(potential, element_sets: list[list[str]]) -> None:
    """Refuse `potential` if LAMMPS rejects its lines for any of these type -> element orders."""
    lmp = Path(sys.executable).parent / "lmp"
    if potential.torch or potential.bridge or potential.plugin or not lmp.is_file():
        return  # models load for seconds; their adapters check what they need
    from ase.data import atomic_masses, atomic_numbers

    from mdrive.isolation import worker_env

    deck = []
    for elements in element_sets:  # one lmp process for them all: `clear` between, a marker to tell them apart
        deck += ["clear", f"print '{MARK} {' '.join(elements)}'", f"units {potential.units}", "atom_style atomic",
                 "atom_modify map yes", "region box block 0 20 0 20 0 20", f"create_box {len(elements)} box"]
        deck += [f"mass {k} {atomic_masses[atomic_numbers[e]]:.4f}" for k, e in enumerate(elements, 1)]
        deck += [*potential.lines(elements), "run 0"]  # atom_modify map yes: as every deck in inputs/
    with tempfile.TemporaryDirectory(prefix="mdrive-preflight-") as tmp:
        try:
            r = subprocess.run([str(lmp), "-log", "none", "-nocite"], input="\n".join(deck) + "\n", cwd=tmp,
                               capture_output=True, text=True, timeout=TIMEOUT_S, env=worker_env())
        except subprocess.TimeoutExpired:
            return  # slow to set up is not wrong: the runs will tell
    if r.returncode != 0:
        lines = (r.stdout + r.stderr).splitlines()
        said = next((ln for ln in lines if ln.startswith("ERROR")), f"exit code {r.returncode}")
        elements = [ln.split(MARK, 1)[1].strip() for ln in lines if ln.startswith(MARK)][-1:] or ["its elements"]
        raise InputError(f"potential {potential.spec}: LAMMPS refuses it for {elements[0]}: "
                         f"{said.split(': ', 1)[-1].strip()}; fix the potential or its files")
