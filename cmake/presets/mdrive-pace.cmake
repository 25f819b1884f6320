# mdrive-pace: ACE potentials (pair_style pace, pace/extrapolation; pace/kk with a Kokkos preset).
# Configure downloads lammps-user-pace; offline, pre-seed it: -D PACELIB_URL=file:///path/v.2023.11.25.fix2.tar.gz
# -D PACELIB_MD5=<its md5>, or point LOCAL_ML-PACE at an unpacked copy.
set(PKG_ML-PACE ON CACHE BOOL "" FORCE)
