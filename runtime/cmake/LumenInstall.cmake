# Installation of liblumen, included at the end of runtime/CMakeLists.txt.
#
#   <prefix>/lib/liblumen.so.1.0.0, liblumen.so.1 (SONAME), liblumen.so (namelink)
#   <prefix>/include/lumen/lumen.h, lumen.hpp
#   <prefix>/lib/cmake/lumen/lumenConfig.cmake, lumenConfigVersion.cmake,
#                            lumenTargets.cmake (+ per-config file): lumen::lumen
#   <prefix>/lib/pkgconfig/lumen.pc
#
# `cmake --install <build> --prefix P` (and DESTDIR=... in the environment)
# decides where it goes. The CMake package is relocatable (every path in it
# is computed from its own location); lumen.pc is written at install time
# with the install prefix, as pkg-config expects (use PKG_CONFIG_SYSROOT_DIR
# for a DESTDIR tree that is not installed yet).
#
# The CTest test install_package (tests/host/install-package.sh) installs into
# a staging tree and builds runtime/examples against it.

if(NOT TARGET lumen)
  message(STATUS "liblumen target not defined: no install rules for it")
  return()
endif()

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The package version is the library's (lumen.h), not the project's.
file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/include/lumen/lumen.h _lumen_version_lines
     REGEX "^#define LUMEN_VERSION_(MAJOR|MINOR|PATCH) +[0-9]+")
foreach(_part MAJOR MINOR PATCH)
  string(REGEX MATCH "LUMEN_VERSION_${_part} +([0-9]+)" _m "${_lumen_version_lines}")
  if(NOT _m)
    message(FATAL_ERROR "lumen.h has no LUMEN_VERSION_${_part}")
  endif()
  set(LUMEN_VERSION_${_part} ${CMAKE_MATCH_1})
endforeach()
set(LUMEN_PACKAGE_VERSION ${LUMEN_VERSION_MAJOR}.${LUMEN_VERSION_MINOR}.${LUMEN_VERSION_PATCH})
get_target_property(_lumen_target_version lumen VERSION)
if(_lumen_target_version AND NOT _lumen_target_version VERSION_EQUAL LUMEN_PACKAGE_VERSION)
  message(FATAL_ERROR "liblumen VERSION ${_lumen_target_version} differs from lumen.h's ${LUMEN_PACKAGE_VERSION}")
endif()
get_target_property(_lumen_target_soversion lumen SOVERSION)
if(_lumen_target_soversion AND NOT _lumen_target_soversion STREQUAL LUMEN_VERSION_MAJOR)
  message(FATAL_ERROR "liblumen SOVERSION ${_lumen_target_soversion} differs from LUMEN_VERSION_MAJOR ${LUMEN_VERSION_MAJOR}")
endif()

set(LUMEN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/lumen)
set(LUMEN_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# --- library and headers --------------------------------------------------------
# Consumers get <prefix>/include: from the target's own
# $<INSTALL_INTERFACE:...> if it has one, else from INCLUDES DESTINATION.
get_target_property(_lumen_includes lumen INTERFACE_INCLUDE_DIRECTORIES)
if("${_lumen_includes}" MATCHES "INSTALL_INTERFACE")
  set(_lumen_includes_destination)
else()
  set(_lumen_includes_destination INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
install(TARGETS lumen EXPORT lumenTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT lumen_runtime
    NAMELINK_COMPONENT lumen_devel
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lumen_devel
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT lumen_runtime
  ${_lumen_includes_destination})

# Every public header of runtime/include/lumen/ (lumen.h, lumen.hpp).
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/lumen
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT lumen_devel
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")

# --- CMake package: find_package(lumen 1) -> lumen::lumen -------------------------
install(EXPORT lumenTargets
  NAMESPACE lumen::
  FILE lumenTargets.cmake
  DESTINATION ${LUMEN_INSTALL_CMAKEDIR}
  COMPONENT lumen_devel)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/lumenConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/lumenConfig.cmake
  INSTALL_DESTINATION ${LUMEN_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
# 1.x callers take any 1.y >= the version they ask for (the ABI rules of lumen.h).
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/lumenConfigVersion.cmake
  VERSION ${LUMEN_PACKAGE_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/lumenConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/lumenConfigVersion.cmake
  DESTINATION ${LUMEN_INSTALL_CMAKEDIR}
  COMPONENT lumen_devel)

# --- pkg-config: pkg-config --cflags --libs lumen ----------------------------------
# Written at install time: `cmake --install --prefix P` changes the prefix
# after configuration, and pkg-config files carry absolute paths. The file
# goes straight to $DESTDIR<prefix>/<libdir>/pkgconfig (nothing is written
# into the build tree, so `sudo make install` leaves no root-owned files
# there) and is recorded in install_manifest.txt.
install(CODE "
  set(_lumen_pc_template \"${CMAKE_CURRENT_LIST_DIR}/lumen.pc.in\")
  set(LUMEN_PACKAGE_VERSION \"${LUMEN_PACKAGE_VERSION}\")
  set(_lumen_pc_libdir \"${CMAKE_INSTALL_LIBDIR}\")
  set(_lumen_pc_includedir \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(_lumen_pc_dir \"${LUMEN_INSTALL_PKGCONFIGDIR}\")
  set(_lumen_pc_name lumen)
  include(\"${CMAKE_CURRENT_LIST_DIR}/LumenPkgConfig.cmake\")
" COMPONENT lumen_devel)

# --- test: the installed package works -------------------------------------------
if(BUILD_TESTING OR NOT DEFINED BUILD_TESTING)
  add_test(NAME install_package
    COMMAND ${CMAKE_SOURCE_DIR}/tests/host/install-package.sh ${CMAKE_BINARY_DIR})
  lumen_test_timeout(install_package 300)
  set_tests_properties(install_package PROPERTIES
    ENVIRONMENT "CMAKE=${CMAKE_COMMAND};CMAKE_GENERATOR=${CMAKE_GENERATOR};CC=${CMAKE_C_COMPILER};CXX=${CMAKE_CXX_COMPILER}")
  # A sanitized liblumen (LUMEN_SANITIZE) needs the sanitizer runtime in the
  # examples that link it: CMake and the examples' Makefile take LDFLAGS.
  if(LUMEN_SANITIZE)
    set_property(TEST install_package APPEND PROPERTY
      ENVIRONMENT "LDFLAGS=-fsanitize=${LUMEN_SANITIZE}")
  endif()
endif()
