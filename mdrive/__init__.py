"""mdrive: a LAMMPS-centric molecular-dynamics driver for machine-learning interatomic potentials."""

__version__ = "0.1.0"
