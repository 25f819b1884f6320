"""Exact-trial Monte Carlo for any potential: mdrive's own MC between LAMMPS MD runs.

`fix gcmc` scores a trial deletion by excluding the atom from its interactions, which an ML pair style may
ignore (mdrive.mc_guard), and cannot score a model computed in Python at all. This engine makes every trial a
real change of the system, scored by a full energy evaluation of the real configuration (`run 0`):
- insertion: `create_atoms single` at a uniform random point (N+1 atoms), velocity from Maxwell-Boltzmann;
- deletion: `delete_atoms` of a random atom of the species (N-1 atoms), put back as it was on rejection;
- translation: one atom of the species moved uniformly within a sphere of radius `displace`;
- swap: the types of a random A atom and a random B atom exchanged.
The acceptance rules, the reservoir (μ with its ideal part from the de Broglie wavelength, or an ideal gas at
pressure P) and the choice of move per trial are fix gcmc's, with LAMMPS's own unit constants, so the
two engines sample the same ensemble. One difference: fix gcmc picks deletions and translations among
all atoms of its group; this engine among the atoms of the exchanged species.

A Widom run (mode "widom") does test insertions only: created, scored, deleted; each invocation's
−kT ln⟨exp(−ΔU/kT)⟩ is one row, as fix widom's f_ID[1].

Every rank runs this same code with the same random stream, so the collective LAMMPS commands agree; rank 0
writes the trace, one row per MC invocation, flushed as it goes.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

CONFIG = "mc-engine.json"
TRACE = "mc-trace.csv"
AUDIT = "mc-audit.extxyz"  # accepted moves' configurations (before, after), when asked for
TRIALS_LOG = "mc-trials.log"  # the last invocation's trial evaluations (LAMMPS writes a run header for each)
LOG = "log.lammps"
COUNTERS = ("translate", "insert", "delete", "swap")
MODES = ("gcmc", "widom")
CANDIDATES = ("uniform", "voronoi")
UNIFORM_SHARE = 0.1  # voronoi: this share of insertions stays uniform, so every region can gain and lose atoms


@dataclass(frozen=True)
class Config:
    """What one run's engine does (mc-engine.json, written by the protocol): values in the deck's units."""

    mode: str
    type: int  # the atom type MC inserts, deletes and moves
    elements: list[str]  # of types 1..n: the trace's per-element counts
    steps: int
    every: int
    temperature: float
    seed: int
    mu: float | None = None  # fix gcmc's μ, ideal part included
    pressure: float | None = None  # or the reservoir's ideal-gas pressure
    exchanges: int = 0
    moves: int = 0
    displace: float = 0.5
    swap: tuple[int, int] | None = None  # atom types A, B
    swaps: int = 0
    insertions: int = 0  # widom: test insertions per invocation
    equilibrate: int = 0  # widom: MD steps before the first invocation
    audit: int = 0  # write the first `audit` accepted moves to AUDIT
    overlap: float | None = None  # fix gcmc's overlap_cutoff: no insertion or translation closer than this to an atom
    candidates: str = "uniform"  # where insertions are tried: uniform, or voronoi (around the host's voids)
    site_sigma: float = 0.3  # voronoi: spread of a candidate around its site

    def write(self, run_dir: Path) -> None:
        (run_dir / CONFIG).write_text(self.text())

    def text(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def read(cls, run_dir: Path) -> Config:
        given = json.loads((run_dir / CONFIG).read_text())
        names = {f.name for f in fields(cls)}
        if not isinstance(given, dict) or set(given) - names or given.get("mode") not in MODES:
            raise ValueError(f"{CONFIG} is not an mdrive MC engine configuration")
        config = cls(**given)
        if config.swap is not None:
            object.__setattr__(config, "swap", tuple(config.swap))
        if config.candidates not in CANDIDATES or not config.site_sigma > 0:
            raise ValueError(f"{CONFIG}: candidates must be one of {', '.join(CANDIDATES)}, with site_sigma > 0")
        if not 1 <= config.type <= len(config.elements) or (config.mu is None) == (config.pressure is None
                                                                                   and config.mode == "gcmc"):
            raise ValueError(f"{CONFIG}: the species type or the reservoir is not valid")
        return config


class Failed(RuntimeError):
    """A trial's energy could not be trusted (the model failed, or gave a non-finite energy): the run ends."""


class Engine:
    """The MC half of a run on an instance the deck has set up (MD fixes, thermo), on communicator `comm`."""

    def __init__(self, lmp, config: Config, comm, failed=lambda: None):
        self.lmp, self.config, self.comm, self.failed = lmp, config, comm, failed
        self.rng = np.random.default_rng(config.seed)  # the same stream on every rank
        kb, h = lmp.extract_global("boltz"), lmp.extract_global("hplanck")
        mvv2e, nktv2p = lmp.extract_global("mvv2e"), lmp.extract_global("nktv2p")
        mass = float(lmp.numpy.extract_atom("mass")[config.type])
        self.beta = 1.0 / (kb * config.temperature)
        self.sigma_v = math.sqrt(kb * config.temperature / mass / mvv2e)  # inserted atoms' velocity spread
        wavelength = math.sqrt(h * h / (2 * math.pi * mass * mvv2e * kb * config.temperature))
        if config.pressure is not None:  # fix gcmc's activity of an ideal-gas reservoir
            self.activity = config.pressure * self.beta / nktv2p
        else:
            self.activity = math.exp(self.beta * (config.mu or 0.0)) / wavelength ** 3
        self.tries = dict.fromkeys(COUNTERS, 0)
        self.accepted = dict.fromkeys(COUNTERS, 0)
        self.audited = 0
        self.e = float("nan")
        self.proposal: Proposal | None = None  # where insertions go, for the host as it is now

    # --- the state of the system ------------------------------------------------------------------

    def energy(self) -> float:
        self.lmp.command("run 0 post no")
        return self.current_energy()

    def current_energy(self) -> float:
        """The total potential energy LAMMPS last computed (never normalised per atom, whatever thermo says)."""
        return self._checked(float(self.lmp.extract_compute("thermo_pe", 0, 0)))

    def _checked(self, e: float) -> float:
        why = self.failed()
        if why or not math.isfinite(e):
            raise Failed(why or f"the potential energy became non-finite ({e}) in an MC trial")
        return e

    def types(self) -> np.ndarray:
        n = self.lmp.get_natoms()
        if n == 0:  # LAMMPS refuses to gather from an empty system
            return np.zeros(0, dtype=int)
        return np.ctypeslib.as_array(self.lmp.gather_atoms("type", 0, 1), shape=(n,)).copy()

    def atoms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Types, positions and velocities of all atoms, by atom id (ids stay 1..N: deletions compress)."""
        n = self.lmp.get_natoms()
        types = self.types()
        if n == 0:
            return types, np.zeros((0, 3)), np.zeros((0, 3))
        x = np.ctypeslib.as_array(self.lmp.gather_atoms("x", 1, 3), shape=(n * 3,)).reshape(n, 3).copy()
        v = np.ctypeslib.as_array(self.lmp.gather_atoms("v", 1, 3), shape=(n * 3,)).reshape(n, 3).copy()
        return types, x, v

    def cell(self) -> tuple[np.ndarray, np.ndarray]:
        """(origin, rows a b c) of the box."""
        lo, hi, xy, yz, xz, _periodic, _changed = self.lmp.extract_box()
        lo, hi = np.array(lo), np.array(hi)
        return lo, np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])

    def _overlaps(self, x: np.ndarray, site: np.ndarray, skip: int | None = None) -> bool:
        """Whether `site` lies closer than the overlap cutoff to an atom (minimum image), `skip` (an id) aside."""
        if not self.config.overlap or len(x) == 0:
            return False
        lo, cell = self.cell()
        d = (x - site) @ np.linalg.inv(cell)
        d = (d - np.round(d)) @ cell
        r2 = np.einsum("ij,ij->i", d, d)
        if skip is not None:
            r2[skip - 1] = np.inf
        return bool(r2.min() < self.config.overlap ** 2)

    def _pick(self, types: np.ndarray, x: np.ndarray, kind: int) -> int | None:
        """A random atom id of type `kind`, or None when there is none. Drawn from the atoms in order of position,
        not of id: `delete_atoms ... compress yes` renumbers atoms by rank, so the same id names a different atom
        on 1 and on 2 ranks, while the positions agree; the same seed then makes the same moves on any ranks."""
        ids = np.flatnonzero(types == kind)
        if not len(ids):
            return None
        ordered = ids[np.lexsort(x[ids].T[::-1])]  # by x, then y, then z
        return int(ordered[self.rng.integers(len(ordered))]) + 1

    # --- the system changed by LAMMPS commands --------------------------------------------------------

    def _create(self, kind: int, x, v) -> None:
        lmp = self.lmp
        before = lmp.get_natoms()
        lmp.command(f"create_atoms {kind} single {_num(x[0])} {_num(x[1])} {_num(x[2])} units box remap yes")
        if lmp.get_natoms() != before + 1:
            raise Failed(f"LAMMPS did not create an MC trial atom at {np.round(x, 3).tolist()}")
        lmp.command(f"set atom {before + 1} vx {_num(v[0])} vy {_num(v[1])} vz {_num(v[2])}")

    def _delete(self, atom: int) -> None:
        self.lmp.command(f"group mdrive_mc id {atom}")
        self.lmp.command("delete_atoms group mdrive_mc compress yes")
        self.lmp.command("group mdrive_mc delete")

    def _place(self, atom: int, x) -> None:
        self.lmp.command(f"set atom {atom} x {_num(x[0])} y {_num(x[1])} z {_num(x[2])}")

    def _retype(self, atom: int, kind: int) -> None:
        self.lmp.command(f"set atom {atom} type {kind}")

    # --- the moves ---------------------------------------------------------------------------------

    def insert(self) -> None:
        self.tries["insert"] += 1
        types, x, _v = self.atoms()
        n = int(np.sum(types == self.config.type))
        proposal = Proposal.of(self, types, x)
        site = proposal.draw(self.rng)
        if self._overlaps(x, site):
            return
        before = self._snapshot()
        self._create(self.config.type, site, self.rng.normal(0.0, self.sigma_v, 3))
        e_new = self.energy()
        ok = self.rng.random() < self.activity * _boltzmann(self.beta * (e_new - self.e)) / (
            (n + 1) * proposal.density(site))
        if ok:
            self._accept("insert", before, e_new)
        else:
            self._delete(len(types) + 1)

    def delete(self) -> None:
        self.tries["delete"] += 1
        types, x, v = self.atoms()
        atom = self._pick(types, x, self.config.type)
        if atom is None:
            return
        n = int(np.sum(types == self.config.type))
        density = Proposal.of(self, types, x).density(x[atom - 1])  # of the insertion that would undo it
        before = self._snapshot()
        self._delete(atom)
        e_new = self.energy()
        ok = self.rng.random() < n * density * _boltzmann(self.beta * (e_new - self.e)) / self.activity
        if ok:
            self._accept("delete", before, e_new)
        else:
            self._create(self.config.type, x[atom - 1], v[atom - 1])

    def translate(self) -> None:
        self.tries["translate"] += 1
        types, x, _v = self.atoms()
        atom = self._pick(types, x, self.config.type)
        if atom is None:
            return
        step = self.rng.uniform(-1, 1, 3)
        while step @ step > 1:  # uniform in the unit ball, as fix gcmc draws it
            step = self.rng.uniform(-1, 1, 3)
        if self._overlaps(x, x[atom - 1] + self.config.displace * step, skip=atom):
            return
        before = self._snapshot()
        self._place(atom, x[atom - 1] + self.config.displace * step)
        self._metropolis("translate", before, lambda: self._place(atom, x[atom - 1]))

    def swap(self) -> None:
        self.tries["swap"] += 1
        a, b = self.config.swap
        types, x, _v = self.atoms()
        i, j = self._pick(types, x, a), self._pick(types, x, b)
        if i is None or j is None:
            return
        before = self._snapshot()
        self._retype(i, b)
        self._retype(j, a)
        self._metropolis("swap", before, lambda: (self._retype(i, a), self._retype(j, b)))

    def _metropolis(self, move: str, before, undo) -> None:
        e_new = self.energy()
        if self.rng.random() < _boltzmann(self.beta * (e_new - self.e)):
            self._accept(move, before, e_new)
        else:
            undo()

    def _accept(self, move: str, before, e_new: float) -> None:
        self.accepted[move] += 1
        if move == "swap":
            self.proposal = None  # a swap may change which atoms are the host
        if before is not None:
            self._audit(move, before, e_new)
        self.e = e_new

    def widom_invocation(self) -> tuple[float, float]:
        """`insertions` test insertions into the current configuration: (μ_ex, ⟨ΔU⟩) as fix widom reports them."""
        n = self.lmp.get_natoms()
        lo, cell = self.cell()
        du = []
        for _ in range(self.config.insertions):
            self._create(self.config.type, lo + self.rng.random(3) @ cell, np.zeros(3))
            du.append(self.energy() - self.e)
            self._delete(n + 1)
        du = np.array(du)
        shift = du.min()  # exp(-β(du - shift)) <= 1: no overflow
        mu = shift - math.log(np.mean(np.exp(-self.beta * (du - shift)))) / self.beta
        return float(mu), float(du.mean())

    # --- audit: accepted moves, before and after, for an outside check of the bookkeeping -----------------

    def _snapshot(self):
        if self.audited >= self.config.audit:
            return None
        types, x, _v = self.atoms()
        return types, x, self.cell(), self.e

    def _audit(self, move: str, before, e_new: float) -> None:
        self.audited += 1
        after = (*self.atoms()[:2], self.cell(), e_new)
        if self.comm.rank != 0:
            return
        import ase.io

        frames = [self._frame(state, move, self.audited, side)
                  for state, side in ((before, "before"), (after, "after"))]
        ase.io.write(AUDIT, frames, format="extxyz", append=True)

    def _frame(self, state, move: str, index: int, side: str):
        from ase import Atoms

        types, x, (lo, cell), e = state
        symbols = [self.config.elements[t - 1] for t in types]
        atoms = Atoms(symbols, positions=x - lo, cell=cell, pbc=True)
        atoms.info.update(move=move, index=index, side=side, mc_energy=e)  # "energy" ASE would take as a result
        return atoms


class Proposal:
    """Where an insertion is tried, and the density of that choice over the cell, q(r), which the acceptance
    divides by so that detailed balance holds for any choice: uniform (q = 1/V, fix gcmc's rule), or voronoi:
    a random site among the Voronoi vertices of the host atoms (those not of the species) that lie at least
    `EXCLUSION` from every host atom, plus a Gaussian of `site_sigma`, or uniform for UNIFORM_SHARE of the tries.
    The host does not change in an insertion or a deletion, so both see the same q."""

    EXCLUSION = 1.0  # Å (σ in LJ units): a site this close to a host atom is a steric overlap

    def __init__(self, lo: np.ndarray, cell: np.ndarray, sites: np.ndarray | None, sigma: float):
        self.lo, self.cell, self.sigma = lo, cell, sigma
        self.inverse = np.linalg.inv(cell)
        self.volume = abs(np.linalg.det(cell))
        self.sites = sites if sites is not None and len(sites) else None

    @classmethod
    def of(cls, engine: Engine, types: np.ndarray, x: np.ndarray) -> Proposal:
        """The engine's proposal for its current host, made once per host (MD and accepted swaps change it)."""
        if engine.proposal is None:
            lo, cell = engine.cell()
            config = engine.config
            sites = None
            if config.candidates == "voronoi":
                sites = void_sites(x[types != config.type], lo, cell, cls.EXCLUSION)
            engine.proposal = cls(lo, cell, sites, config.site_sigma)
        return engine.proposal

    def draw(self, rng) -> np.ndarray:
        if self.sites is None or rng.random() < UNIFORM_SHARE:
            return self.lo + rng.random(3) @ self.cell
        point = self.sites[rng.integers(len(self.sites))] + rng.normal(0.0, self.sigma, 3)
        fractional = (point - self.lo) @ self.inverse
        return self.lo + (fractional - np.floor(fractional)) @ self.cell  # back into the cell

    def density(self, r: np.ndarray) -> float:
        if self.sites is None:
            return 1.0 / self.volume
        d = (self.sites - r) @ self.inverse
        d = (d - np.round(d)) @ self.cell  # the nearest image of each site (sigma far below half the cell)
        norm = (2 * np.pi * self.sigma ** 2) ** 1.5
        gauss = np.exp(-np.einsum("ij,ij->i", d, d) / (2 * self.sigma ** 2)).mean() / norm
        return (1 - UNIFORM_SHARE) * gauss + UNIFORM_SHARE / self.volume


def void_sites(host: np.ndarray, lo: np.ndarray, cell: np.ndarray, exclusion: float) -> np.ndarray | None:
    """Voronoi vertices of the periodic host inside the cell, at least `exclusion` from every host atom (one per
    place: vertices closer than 0.1 of the exclusion merged); None without at least 4 host atoms."""
    if len(host) < 4:
        return None
    from scipy.spatial import Voronoi

    inverse = np.linalg.inv(cell)
    fractional = (host - lo) @ inverse
    fractional -= np.floor(fractional)
    shifts = np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])).reshape(3, -1).T
    images = (fractional[None, :, :] + shifts[:, None, :]).reshape(-1, 3) @ cell
    vertices = (Voronoi(images).vertices @ inverse)
    vertices = vertices[np.all((vertices >= 0) & (vertices < 1), axis=1)]
    d = vertices[:, None, :] - fractional[None, :, :]
    d = (d - np.round(d)) @ cell
    clear = np.min(np.einsum("ijk,ijk->ij", d, d), axis=1) >= exclusion ** 2
    sites = vertices[clear] @ cell
    if not len(sites):
        return None
    _, keep = np.unique(np.round(sites / (0.1 * exclusion)).astype(np.int64), axis=0, return_index=True)
    return lo + sites[np.sort(keep)]


def _num(value) -> str:
    """A coordinate as LAMMPS reads it back to the last bit."""
    return f"{float(value):.17g}"


def _boltzmann(x: float) -> float:
    """exp(-x), 0 where it underflows and a large number where it would overflow (always accepted)."""
    return math.exp(-x) if x > -700 else 1e300


# --- the run: MD in between, a row per invocation ------------------------------------------------------------


class Trace:
    """The trace file, a row per MC invocation, written and flushed by rank 0 (a crash keeps every row)."""

    def __init__(self, path: Path, columns: list[str], write: bool):
        self.columns, self.file = columns, (open(path, "w", newline="") if write else None)  # noqa: SIM115
        if self.file:
            self.writer = csv.writer(self.file)
            self.writer.writerow(columns)

    def row(self, values: dict) -> None:
        if self.file:
            self.writer.writerow([repr(float(values[c])) if isinstance(values[c], float) else values[c]
                                  for c in self.columns])
            self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()


def drive(lmp, run_dir: Path, comm, stop, failed) -> None:
    """The run after its deck has set it up: MD `every` steps at a time, an MC invocation after each."""
    config = Config.read(run_dir)
    engine = Engine(lmp, config, comm, failed)
    gcmc = config.mode == "gcmc"
    columns = (["step", "temp", "pe", "atoms", "volume", "density"] + [f"n_{e}" for e in config.elements]
               + [f"{m}_{k}" for m in COUNTERS for k in ("tries", "ok")]) if gcmc else \
        ["step", "temp", "pe", "press", "density", "mu_ex", "du_mean"]
    trace = Trace(run_dir / TRACE, columns, comm.rank == 0)
    try:
        if config.equilibrate:
            _md(lmp, config.equilibrate, failed)
        step = 0
        while step < config.steps and not _stopped(lmp, stop, comm):
            _md(lmp, min(config.every, config.steps - step), failed)
            step += min(config.every, config.steps - step)
            if _stopped(lmp, stop, comm):  # the MD was cut short: no invocation on a partial interval
                break
            trace.row({**_thermo(lmp, config, gcmc), **_invocation(engine, gcmc)})
    finally:
        trace.close()


def _invocation(engine: Engine, gcmc: bool) -> dict:
    lmp, config = engine.lmp, engine.config
    lmp.command(f"log {TRIALS_LOG}")  # LAMMPS prints a run header per trial: keep them out of the run's log
    try:
        engine.e = engine.current_energy()
        engine.proposal = None  # the MD moved the host
        if not gcmc:
            mu, du = engine.widom_invocation()
            return {"mu_ex": mu, "du_mean": du}
        cycles = config.exchanges + config.moves
        for _ in range(cycles):
            if engine.rng.random() < config.moves / cycles:
                engine.translate()
            elif engine.rng.random() < 0.5:
                engine.delete()
            else:
                engine.insert()
        for _ in range(config.swaps if config.swap else 0):
            engine.swap()
        types = engine.types()
    finally:
        lmp.command(f"log {LOG} append")
    counts = {f"n_{e}": int(np.sum(types == k)) for k, e in enumerate(config.elements, 1)}
    moves = {f"{m}_{k}": (engine.tries if k == "tries" else engine.accepted)[m] for m in COUNTERS
             for k in ("tries", "ok")}
    # LAMMPS's pe is the last trial's, perhaps a rejected one: the kept configuration's is the engine's
    return {**_thermo(lmp, config, True), "pe": engine.e, **counts, **moves}


def _thermo(lmp, config: Config, gcmc: bool) -> dict:
    names = ("temp", "pe", "atoms", "vol", "density") if gcmc else ("temp", "pe", "press", "density")
    values = {n: float(lmp.get_thermo(n)) for n in names}
    if gcmc:
        values["atoms"], values["volume"] = int(values["atoms"]), values.pop("vol")
    return {"step": int(lmp.get_thermo("step")), **values}


def _md(lmp, steps: int, failed) -> None:
    lmp.command(f"run {steps} post no")
    why = failed()
    if why:
        raise Failed(why)


def _stopped(lmp, stop, comm) -> bool:
    """A stop asked for (signal, wall time, the supervisor), agreed by every rank; or fix halt ended the MD."""
    from mpi4py import MPI

    halt = stop.requested() or _halted(lmp)
    return bool(comm.allreduce(halt, op=MPI.LOR)) if comm.size > 1 else bool(halt)


def _halted(lmp) -> bool:
    try:  # mdrive-hooks.in's variable: set when fix halt ended the MD early
        return float(lmp.extract_variable("mdrive_stop") or 0) > 0.5
    except Exception:  # a deck run without mdrive's hooks
        return False
