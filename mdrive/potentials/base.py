"""What every potential adapter produces: one `Potential` record that the deck layer turns into lines."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mdrive.errors import InputError

# how an MLIP runs: its pair style (native: in the build; plugin: mdrive's build of it) or the ASE bridge;
# auto: the pair style when the build or a built plugin has it, else the bridge
BACKENDS = ("auto", "native", "plugin", "ase")


@dataclass(frozen=True)
class Kokkos:
    """That the style has a Kokkos variant (LAMMPS's -sf kk finds it), the `package kokkos` options it needs."""

    package: str = "newton on neigh half"
    refuse: str = ""  # why the Kokkos style cannot run this configuration on a GPU (empty: it can)


@dataclass(frozen=True)
class Potential:
    """A potential as LAMMPS needs it: lines for a given type->element order, plus the rules of its style.

    `coeff_lines(elements)` returns the pair_style/pair_coeff lines for atom types 1..n holding `elements`.
    `elements` is what the potential covers (None: any element). `files` are hashed into the manifest.
    """

    spec: str
    family: str
    styles: tuple[str, ...]  # every pair style the lines use; each must exist in the running build
    coeff_lines: Callable[[list[str]], list[str]] = field(compare=False, repr=False)
    elements: tuple[str, ...] | None = None
    files: tuple[Path, ...] = ()
    newton: str | None = None  # "on"/"off" when the style requires one
    multi_rank: bool = True  # may one run use several MPI ranks
    kokkos: Kokkos | None = None
    units: str = "metal"
    cutoff: float | None = None
    # for potentials computed outside LAMMPS: elements -> {fix id: factory(lmp) -> fix external callback}
    bridge: Callable[[list[str]], dict] | None = field(default=None, compare=False, repr=False)
    plugin: Path | None = None  # a LAMMPS plugin (.so) providing the styles; the include loads it
    torch: bool = False  # runs libtorch inside LAMMPS: a run's process loads torch first (runtime.load_torch_first)
    max_atoms: int | None = None  # the most atoms the style runs safely (None: no known limit)
    about: dict = field(default_factory=dict, compare=False)  # provenance beyond the files: model, package versions
    build_hints: dict = field(default_factory=dict, compare=False)  # style -> the LAMMPS build that has it (load())

    def lines(self, elements: list[str]) -> list[str]:
        """The potential include for atom types holding `elements` (type 1 = elements[0])."""
        self.check_elements(elements)
        head = [f"# mdrive potential: {self.spec}"]
        if self.plugin:
            from mdrive.plugins import by_hand_environment

            head += [f"# by hand, run lmp at mdrive's speed with: {by_hand_environment()}",
                     f"plugin load {self.plugin}"]
        if self.newton:
            head.append(f"newton {self.newton} on")  # pair setting only: bond cannot change after the box exists
        return head + self.coeff_lines(list(elements))

    def check_elements(self, elements) -> None:
        if self.elements is None:
            return
        missing = sorted(set(elements) - set(self.elements))
        if missing:
            raise InputError(
                f"potential {self.spec} covers {' '.join(self.elements)} but the structure has "
                f"{' '.join(missing)}: choose a potential for these elements or other structures")

    def check_size(self, name: str, atoms: int) -> None:
        if self.max_atoms is not None and atoms > self.max_atoms:
            raise InputError(f"structure {name} has {atoms} atoms; potential {self.spec} ({self.styles[0]}) runs at "
                             f"most {self.max_atoms}: use smaller cells")

    def check_build(self, build, ranks_per_run: int = 1) -> None:
        """Refuse, before any run, what the running LAMMPS cannot do right."""
        if self.plugin is not None and "PLUGIN" not in build.packages:  # `plugin load` would be an unknown command
            raise InputError(f"potential {self.spec}: this LAMMPS ({build.version}) has no PLUGIN package, so "
                             f"mdrive's plugin of pair_style {self.styles[0]} cannot load; it needs "
                             f"{self.build_hints.get(self.styles[0]) or 'a build with the style'}, or the PyPI wheel")
        if self.plugin is not None:
            from mdrive.plugins import loads

            if not loads(self.plugin, self.styles[0]):
                raise InputError(f"plugin {self.plugin} does not load into this LAMMPS; rebuild it with "
                                 f"`python -m mdrive plugins build`")
        for style in self.styles:
            if self.plugin is None and not build.has_pair(style):
                hint = self.build_hints.get(style) or "a LAMMPS build with the package providing it"
                raise InputError(
                    f"pair style '{style}' (potential {self.spec}) is not in this LAMMPS build "
                    f"(LAMMPS {build.version}); it needs {hint}; `python -m mdrive info` lists what this build has")
        if ranks_per_run > 1 and not self.multi_rank:
            raise InputError(
                f"potential {self.spec}: pair style {self.styles[0]} runs on one MPI rank only; "
                f"use --ranks-per-run 1 (ensembles over several ranks still run in parallel)")

    def callbacks(self, elements: list[str]) -> dict:
        """Callbacks the run layer attaches to this potential's fixes, for atom types holding `elements`."""
        return self.bridge(list(elements)) if self.bridge else {}

    def worker_setup(self, elements: list[str]):
        """What a run's own process must set up before LAMMPS starts (mdrive.worker): torch first, and
        the callbacks of a potential computed outside LAMMPS, rebuilt there from the spec."""
        from mdrive.run_setup import Setup

        return Setup(torch_first=self.torch, bridge=(self.spec, tuple(elements)) if self.bridge else None)

    def hashes(self) -> dict[str, str]:
        return {str(p): sha256(p) for p in self.files}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
