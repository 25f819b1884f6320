"""What every MD protocol shares: the bounds of its timestep, seeds and thermostat/barostat damping."""
from __future__ import annotations

from mdrive.errors import InputError

MAX_TIMESTEP_PS = 0.02  # 20 fs: beyond any atomistic MD step; a bare '2' (ps) is surely meant as 2 fs
SEED_MAX = 2 ** 31 - 1  # LAMMPS's velocity and fix seeds are positive 32-bit integers
LONG_DAMPING_PS = 1.0  # dampings above this must still fit in the run (short test runs keep the defaults)


def check_damping(tdamp: float | None, pdamp: float | None, dt: float, duration: float | None) -> None:
    """A damping time must span several timesteps (else the thermostat drives the integrator unstable) and
    stay below the run's length (else it never acts); both catch a value given in the wrong unit."""
    for name, value in (("--tdamp", tdamp), ("--pdamp", pdamp)):
        if value is None:
            continue
        if value < 2 * dt:
            raise InputError(f"{name} {value * 1000:g} fs is shorter than two timesteps ({2 * dt * 1000:g} fs): "
                             f"the thermostat would make MD unstable; ~100 timesteps is usual (e.g. {name} "
                             f"{100 * dt * 1000:g}fs)")
        if value > LONG_DAMPING_PS and (duration is None or value > duration):
            run = f"the run ({duration:g} ps)" if duration is not None else "any run it would damp"
            raise InputError(f"{name} {value:g} ps is longer than {run}, so it would never act; a bare number "
                             f"is ps: write the unit, e.g. {name} {value:g}fs")
