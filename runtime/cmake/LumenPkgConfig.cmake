# Install-time half of lumen.pc (see LumenInstall.cmake): runs inside
# cmake_install.cmake, where CMAKE_INSTALL_PREFIX is the final prefix
# (`cmake --install --prefix`) and DESTDIR comes from the environment.
# In: _lumen_pc_template, LUMEN_PACKAGE_VERSION, _lumen_pc_libdir,
# _lumen_pc_includedir, _lumen_pc_dir (the last three relative to the prefix
# unless absolute), and _lumen_pc_name (the file's name without .pc:
# "lumen" when unset; liblumen-ccl's is "lumen-ccl").
if(NOT _lumen_pc_name)
  set(_lumen_pc_name lumen)
endif()

set(LUMEN_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(_v libdir includedir)
  if(IS_ABSOLUTE "${_lumen_pc_${_v}}")
    set(LUMEN_PC_${_v} "${_lumen_pc_${_v}}")
  else()
    set(LUMEN_PC_${_v} "\${prefix}/${_lumen_pc_${_v}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${_lumen_pc_dir}")
  set(_lumen_pc_file "${_lumen_pc_dir}/${_lumen_pc_name}.pc")
else()
  set(_lumen_pc_file "${CMAKE_INSTALL_PREFIX}/${_lumen_pc_dir}/${_lumen_pc_name}.pc")
endif()

set(_lumen_pc_dest "$ENV{DESTDIR}${_lumen_pc_file}")
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_lumen_pc_file}")
message(STATUS "Installing: ${_lumen_pc_dest}")
configure_file("${_lumen_pc_template}" "${_lumen_pc_dest}" @ONLY)
