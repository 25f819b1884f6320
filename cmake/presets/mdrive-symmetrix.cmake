# mdrive-symmetrix: MACE through symmetrix/mace(/kk) on LAMMPS >= 10 Sep 2025 (C++20, CMake >= 3.27), with a
# Kokkos preset; -D SYMMETRIX_SPHERICART_CUDA=ON adds its CUDA spherical harmonics.
set(SYMMETRIX_KOKKOS ON CACHE BOOL "" FORCE)
set(CMAKE_CXX_STANDARD 20 CACHE STRING "" FORCE)
