# mdrive-mliap-python: MACE (and NequIP/Allegro) through `pair_style mliap unified`. Needs LAMMPS develop
# newer than 15 Dec 2025 (older releases give wrong physics: mace PR #1331), Cython, and on GPUs a Kokkos
# CUDA preset as well.
set(PKG_ML-IAP ON CACHE BOOL "" FORCE)
set(PKG_PYTHON ON CACHE BOOL "" FORCE)
set(MLIAP_ENABLE_PYTHON ON CACHE BOOL "" FORCE)
