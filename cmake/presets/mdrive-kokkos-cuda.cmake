# mdrive-kokkos-cuda: KOKKOS with CUDA, the part every NVIDIA GPU shares (CUDA >= 12.2, C++20). Pass one of
# the architecture presets (mdrive-kokkos-cuda-ampere.cmake, -hopper.cmake), which include this file.
set(PKG_KOKKOS ON CACHE BOOL "" FORCE)
set(Kokkos_ENABLE_CUDA ON CACHE BOOL "" FORCE)
set(Kokkos_ENABLE_SERIAL ON CACHE BOOL "" FORCE)
set(BUILD_OMP OFF CACHE BOOL "" FORCE)  # pair_nequip_allegro: OPENMP cannot be combined with Kokkos
set(CMAKE_CXX_STANDARD 20 CACHE STRING "" FORCE)
set(CMAKE_CXX_COMPILER ${CMAKE_CURRENT_SOURCE_DIR}/../lib/kokkos/bin/nvcc_wrapper CACHE FILEPATH "" FORCE)
