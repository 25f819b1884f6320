# mdrive-kokkos-openmp: KOKKOS on CPUs with OpenMP threads (the /kk styles on the host).
set(PKG_KOKKOS ON CACHE BOOL "" FORCE)
set(Kokkos_ENABLE_OPENMP ON CACHE BOOL "" FORCE)
set(Kokkos_ENABLE_SERIAL ON CACHE BOOL "" FORCE)
set(BUILD_OMP ON CACHE BOOL "" FORCE)
set(CMAKE_CXX_STANDARD 20 CACHE STRING "" FORCE)
