# mdrive-kokkos-cuda-ampere: KOKKOS on NVIDIA A100 (compute capability 8.0). A build for one major compute
# capability aborts on another: use mdrive-kokkos-cuda-hopper.cmake for H100/H200.
include(${CMAKE_CURRENT_LIST_DIR}/mdrive-kokkos-cuda.cmake)
set(Kokkos_ARCH_AMPERE80 ON CACHE BOOL "" FORCE)
