# mdrive-kokkos-cuda-hopper: KOKKOS on NVIDIA H100/H200 (compute capability 9.0). A build for one major compute
# capability aborts on another: use mdrive-kokkos-cuda-ampere.cmake for A100.
include(${CMAKE_CURRENT_LIST_DIR}/mdrive-kokkos-cuda.cmake)
set(Kokkos_ARCH_HOPPER90 ON CACHE BOOL "" FORCE)
