# mdrive-nequip-allegro: pair_nequip_allegro (nequip, allegro, allegro/kk) on LAMMPS >= 10 Sep 2025, after
# its patch step (pair_nequip_allegro/patch_lammps.sh /path/to/lammps). Pass the torch CMake prefix as for
# mace; with Kokkos, libtorch must use the C++11 ABI and OPENMP stays off (the Kokkos CUDA presets do that).
set(NEQUIP_AOT_COMPILE ON CACHE BOOL "" FORCE)
