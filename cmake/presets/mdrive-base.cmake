# mdrive-base: what every mdrive protocol needs from LAMMPS (pass first: cmake -C mdrive-base.cmake ...).
# Shared library and Python module (mdrive runs LAMMPS in-process), MPI, and the packages of the
# protocols: many-body and SNAP/ML-IAP potentials, MC (gcmc, widom, atom/swap), EXTRA-FIX, plugins.
set(CMAKE_BUILD_TYPE Release CACHE STRING "" FORCE)
set(BUILD_SHARED_LIBS ON CACHE BOOL "" FORCE)
set(BUILD_MPI ON CACHE BOOL "" FORCE)
set(LAMMPS_EXCEPTIONS ON CACHE BOOL "" FORCE)
foreach(pkg MANYBODY ML-SNAP ML-IAP MC EXTRA-FIX EXTRA-COMPUTE MISC PLUGIN PYTHON)
  set(PKG_${pkg} ON CACHE BOOL "" FORCE)
endforeach()
