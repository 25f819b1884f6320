# mdrive-kokkos-cuda-ampere: KOKKOS on NVIDIA A100 (compute capability 8.0). CUDA >= 12.2, C++20.
# A build for one major compute capability aborts on another: use the hopper preset for H100/H200.
set(PKG_KOKKOS ON CACHE BOOL "" FORCE)
set(Kokkos_ENABLE_CUDA ON CACHE BOOL "" FORCE)
set(Kokkos_ENABLE_SERIAL ON CACHE BOOL "" FORCE)
set(Kokkos_ARCH_AMPERE80 ON CACHE BOOL "" FORCE)
set(BUILD_OMP OFF CACHE BOOL "" FORCE)  # pair_nequip_allegro: OPENMP cannot be combined with Kokkos
set(CMAKE_CXX_STANDARD 20 CACHE STRING "" FORCE)
set(CMAKE_CXX_COMPILER ${CMAKE_CURRENT_SOURCE_DIR}/../lib/kokkos/bin/nvcc_wrapper CACHE FILEPATH "" FORCE)
