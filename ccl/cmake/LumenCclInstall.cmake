# Installation of liblumen-ccl, included at the end of ccl/CMakeLists.txt,
# beside liblumen's (runtime/cmake/LumenInstall.cmake, whose conventions it
# follows):
#
#   <prefix>/lib/liblumen-ccl.so.X.Y.Z, liblumen-ccl.so.X (SONAME), liblumen-ccl.so
#   <prefix>/include/lumen/lumen_ccl.h
#   <prefix>/lib/cmake/lumen-ccl/lumen-cclConfig.cmake, ...Version.cmake,
#                                lumen-cclTargets.cmake: lumen::lumen_ccl
#   <prefix>/lib/pkgconfig/lumen-ccl.pc (Requires: lumen)

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/include/lumen/lumen_ccl.h _ccl_version_lines
     REGEX "^#define LUMEN_CCL_VERSION_(MAJOR|MINOR|PATCH) +[0-9]+")
foreach(_part MAJOR MINOR PATCH)
  string(REGEX MATCH "LUMEN_CCL_VERSION_${_part} +([0-9]+)" _m "${_ccl_version_lines}")
  if(NOT _m)
    message(FATAL_ERROR "lumen_ccl.h has no LUMEN_CCL_VERSION_${_part}")
  endif()
  set(LUMEN_CCL_VERSION_${_part} ${CMAKE_MATCH_1})
endforeach()
set(LUMEN_CCL_PACKAGE_VERSION
  ${LUMEN_CCL_VERSION_MAJOR}.${LUMEN_CCL_VERSION_MINOR}.${LUMEN_CCL_VERSION_PATCH})
get_target_property(_ccl_target_version lumen_ccl VERSION)
if(NOT _ccl_target_version VERSION_EQUAL LUMEN_CCL_PACKAGE_VERSION)
  message(FATAL_ERROR "liblumen-ccl VERSION ${_ccl_target_version} differs from lumen_ccl.h's ${LUMEN_CCL_PACKAGE_VERSION}")
endif()

set(LUMEN_CCL_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/lumen-ccl)

install(TARGETS lumen_ccl EXPORT lumen-cclTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT lumen_runtime
    NAMELINK_COMPONENT lumen_devel)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/lumen/lumen_ccl.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lumen COMPONENT lumen_devel)

install(EXPORT lumen-cclTargets
  NAMESPACE lumen::
  FILE lumen-cclTargets.cmake
  DESTINATION ${LUMEN_CCL_INSTALL_CMAKEDIR}
  COMPONENT lumen_devel)
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/lumen-cclConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/lumen-cclConfig.cmake
  INSTALL_DESTINATION ${LUMEN_CCL_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a minor version may change the ABI (the SONAME is the major, 0, so
# callers ask for the minor they were built with).
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/lumen-cclConfigVersion.cmake
  VERSION ${LUMEN_CCL_PACKAGE_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/lumen-cclConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/lumen-cclConfigVersion.cmake
  DESTINATION ${LUMEN_CCL_INSTALL_CMAKEDIR}
  COMPONENT lumen_devel)

install(CODE "
  set(_lumen_pc_template \"${CMAKE_CURRENT_LIST_DIR}/lumen-ccl.pc.in\")
  set(LUMEN_PACKAGE_VERSION \"${LUMEN_CCL_PACKAGE_VERSION}\")
  set(_lumen_pc_libdir \"${CMAKE_INSTALL_LIBDIR}\")
  set(_lumen_pc_includedir \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(_lumen_pc_dir \"${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
  set(_lumen_pc_name lumen-ccl)
  include(\"${CMAKE_SOURCE_DIR}/runtime/cmake/LumenPkgConfig.cmake\")
" COMPONENT lumen_devel)
