# mdrive-mace: `pair_style mace` (libtorch) of the ACEsuit LAMMPS fork, branch mace. Pass the torch CMake
# prefix: -D CMAKE_PREFIX_PATH=$(python -c 'import torch; print(torch.utils.cmake_prefix_path)')
set(PKG_ML-MACE ON CACHE BOOL "" FORCE)
