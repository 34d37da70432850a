#!/bin/bash
# CTest install_package: the installed liblumen package works.
#
#   tests/host/install-package.sh BUILD_DIR
#
# 1. DESTDIR=BUILD_DIR/install-test cmake --install BUILD_DIR --prefix /usr/local
# 2. checks the file list: liblumen.so.1.0.0, the liblumen.so.1 (SONAME) and
#    liblumen.so symlinks, lumen.h/lumen.hpp, lumen.pc, the CMake package,
#    npu-smi; no build/source paths in the package files;
# 3. checks the ABI surface: SONAME liblumen.so.1, `nm -D --defined-only`
#    exports exactly the lumen_* functions lumen.h declares (plus the version
#    node LUMEN_1.0), and docs/runtime-api.md documents each of them;
# 4. pkg-config: version, --cflags, --libs, --static;
# 5. CMake: find_package(lumen 1) (and not 2), then builds runtime/examples
#    with its standalone CMakeLists.txt into BUILD_DIR/examples-installed/bin
#    (their RUNPATH is the staged lib dir, so tests/vm/run --add finds
#    liblumen for the guest: `make test-examples` runs them on emulated cards);
# 6. builds them again with runtime/examples/Makefile (pkg-config) into
#    BUILD_DIR/examples-installed/pkgconfig;
# 7. every example binary NEEDs liblumen.so.1, and one runs on the host with
#    LD_BIND_NOW=1 (all symbols resolve) and fails cleanly without a device.
#
# Environment: CMAKE (default cmake), CMAKE_GENERATOR, CC, CXX, MAKE.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
CMAKE=${CMAKE:-cmake}
MAKE=${MAKE:-make}
prefix=/usr/local
stage=$build/install-test
out=$build/examples-installed
log=$build/install-test.log

step() { echo "install-package: $*"; }
fail() { echo "install-package: FAIL: $*" >&2; exit 1; }
cache_get() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }

[[ -f $build/CMakeCache.txt ]] || fail "$build is not a CMake build directory"
libdir=$(cache_get CMAKE_INSTALL_LIBDIR)
includedir=$(cache_get CMAKE_INSTALL_INCLUDEDIR)
bindir=$(cache_get CMAKE_INSTALL_BINDIR)
libdir=${libdir:-lib} includedir=${includedir:-include} bindir=${bindir:-bin}
hdr=$src/runtime/include/lumen/lumen.h
ver=$(awk '/^#define LUMEN_VERSION_(MAJOR|MINOR|PATCH) /{ v = v (v == "" ? "" : ".") $3 } END { print v }' "$hdr")
major=${ver%%.*}
[[ $ver =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "cannot read the version from $hdr"

# --- 1. install into a staging tree --------------------------------------------------
step "DESTDIR=$stage $CMAKE --install $build --prefix $prefix"
rm -rf "$stage" "$out"
mkdir -p "$out"
DESTDIR=$stage "$CMAKE" --install "$build" --prefix "$prefix" >"$log" 2>&1 ||
	{ cat "$log" >&2; fail "cmake --install failed"; }
root=$stage$prefix

# --- 2. file list ------------------------------------------------------------------------
step "file list"
lib=$root/$libdir
[[ -f $lib/liblumen.so.$ver && ! -L $lib/liblumen.so.$ver ]] || fail "$libdir/liblumen.so.$ver missing (or not a file)"
[[ $(readlink "$lib/liblumen.so.$major") == "liblumen.so.$ver" ]] ||
	fail "$libdir/liblumen.so.$major is not a symlink to liblumen.so.$ver"
[[ $(readlink "$lib/liblumen.so") == "liblumen.so.$major" ]] ||
	fail "$libdir/liblumen.so (namelink) is not a symlink to liblumen.so.$major"
for f in "$includedir/lumen/lumen.h" "$includedir/lumen/lumen.hpp" \
	"$libdir/pkgconfig/lumen.pc" \
	"$libdir/cmake/lumen/lumenConfig.cmake" "$libdir/cmake/lumen/lumenConfigVersion.cmake" \
	"$libdir/cmake/lumen/lumenTargets.cmake" "$bindir/npu-smi"; do
	[[ -f $root/$f ]] || fail "$prefix/$f not installed"
done
ls "$root/$libdir/cmake/lumen/"lumenTargets-*.cmake >/dev/null 2>&1 ||
	fail "$libdir/cmake/lumen/lumenTargets-<config>.cmake not installed"
cmp -s "$hdr" "$root/$includedir/lumen/lumen.h" || fail "installed lumen.h differs from the source"
stray=$(cd "$stage" && find . \( -name '*.a' -o -name '*.o' -o -name 'lumen_sys*' -o -path '*/src/*' \) -print)
[[ -z $stray ]] || fail "internal files installed: $stray"
# Every installed file is in install_manifest.txt (so it can be uninstalled).
while IFS= read -r -d '' f; do
	grep -qxF "${f#"$stage"}" "$build/install_manifest.txt" ||
		fail "${f#"$stage"} is installed but not in install_manifest.txt"
done < <(find "$stage" \( -type f -o -type l \) -print0)
# Relocatable CMake package and no trace of this checkout in the package files.
if grep -rlF -e "$src" -e "$build" "$root/$libdir/cmake/lumen" "$root/$libdir/pkgconfig" >/dev/null; then
	fail "package files name the build or source tree: $(grep -rlF -e "$src" -e "$build" "$root/$libdir/cmake/lumen" "$root/$libdir/pkgconfig" | tr '\n' ' ')"
fi

# --- 3. ABI surface ----------------------------------------------------------------------
step "SONAME and exported symbols"
so=$lib/liblumen.so.$ver
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == "liblumen.so.$major" ]] || fail "SONAME is '$soname', expected liblumen.so.$major"
# nm prints "lumen_x@@LUMEN_1.0" (binutils >= 2.35) or "lumen_x".
exported=$(nm -D --defined-only "$so" | awk '{ print $NF }' | sed 's/@.*//' | sort -u)
declared=$(grep -oE '^LUMEN_API[^(]*[^a-z_(]lumen_[a-z0-9_]+ *\(' "$hdr" |
	sed -E 's/.*(lumen_[a-z0-9_]+) *\($/\1/' | sort -u)
[[ -n $declared ]] || fail "no LUMEN_API functions found in lumen.h"
others=$(grep -vE '^lumen_' <<<"$exported" | grep -vxE 'LUMEN_[0-9.]+' || true)
[[ -z $others ]] || fail "exports non-API symbols: $(tr '\n' ' ' <<<"$others")"
extra=$(comm -23 <(grep -E '^lumen_' <<<"$exported") <(echo "$declared"))
[[ -z $extra ]] || fail "exports lumen_* symbols lumen.h does not declare: $(tr '\n' ' ' <<<"$extra")"
missing=$(comm -13 <(grep -E '^lumen_' <<<"$exported") <(echo "$declared"))
[[ -z $missing ]] || fail "lumen.h declares functions the library does not export: $(tr '\n' ' ' <<<"$missing")"
if nm -D --defined-only "$so" | grep -qE 'lumen_[a-z0-9_]+@@?LUMEN_'; then
	unversioned=$(nm -D --defined-only "$so" | awk '$NF ~ /^lumen_/ && $NF !~ /@/ { print $NF }')
	[[ -z $unversioned ]] || fail "symbols without a version: $unversioned"
fi
# LUMEN_1.0 is frozen: a function added to lumen.h but not to a newer node of
# liblumen.map would land in it through the lumen_* wildcard.
v10=$(nm -D --defined-only "$so" | awk '{ print $NF }' | sed -n 's/@@LUMEN_1\.0$//p' | sort)
want10=$(grep -v '^#' "$src/runtime/liblumen-1.0.abi" | sort)
[[ $v10 == "$want10" ]] ||
	fail "LUMEN_1.0 exports differ from runtime/liblumen-1.0.abi: $(diff <(echo "$want10") <(echo "$v10") | grep '^[<>]' | tr '\n' ' ')"
step "  $(wc -l <<<"$declared") functions, all declared, nothing else exported; LUMEN_1.0 as frozen"
# docs/runtime-api.md's function reference keeps up with lumen.h.
undocumented=$(while IFS= read -r f; do grep -qF "\`$f(" "$src/docs/runtime-api.md" || echo "$f"; done <<<"$declared")
[[ -z $undocumented ]] || fail "docs/runtime-api.md does not document: $(tr '\n' ' ' <<<"$undocumented")"

# --- 4. pkg-config -------------------------------------------------------------------------
step "liblumen-ccl: files, SONAME, exports, pkg-config"
cclhdr=$src/ccl/include/lumen/lumen_ccl.h
cclver=$(awk '/^#define LUMEN_CCL_VERSION_(MAJOR|MINOR|PATCH) /{ v = v (v == "" ? "" : ".") $3 } END { print v }' "$cclhdr")
cclmajor=${cclver%%.*}
[[ $cclver =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "cannot read the version from $cclhdr"
for f in "$libdir/liblumen-ccl.so.$cclver" "$includedir/lumen/lumen_ccl.h" \
	"$libdir/pkgconfig/lumen-ccl.pc" "$libdir/cmake/lumen-ccl/lumen-cclConfig.cmake" \
	"$libdir/cmake/lumen-ccl/lumen-cclConfigVersion.cmake" \
	"$libdir/cmake/lumen-ccl/lumen-cclTargets.cmake"; do
	[[ -f $root/$f ]] || fail "$prefix/$f not installed"
done
[[ $(readlink "$lib/liblumen-ccl.so") == "liblumen-ccl.so.$cclmajor" ]] ||
	fail "$libdir/liblumen-ccl.so (namelink) is not a symlink to liblumen-ccl.so.$cclmajor"
cclso=$lib/liblumen-ccl.so.$cclver
soname=$(readelf -d "$cclso" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == "liblumen-ccl.so.$cclmajor" ]] || fail "liblumen-ccl's SONAME is '$soname'"
exported=$(nm -D --defined-only "$cclso" | awk '{ print $NF }' | sed 's/@.*//' | grep -vxE 'LUMEN_CCL_[0-9.]+' | sort -u)
declared=$(grep -oE '^LUMEN_API[^(]*[^a-z_(]lumen_ccl_[a-z0-9_]+ *\(' "$cclhdr" |
	sed -E 's/.*(lumen_ccl_[a-z0-9_]+) *\($/\1/' | sort -u)
[[ $exported == "$declared" ]] ||
	fail "liblumen-ccl exports differ from lumen_ccl.h: $(diff <(echo "$declared") <(echo "$exported") | grep '^[<>]' | tr '\n' ' ')"
pc_env=(env PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage")
got=$("${pc_env[@]}" pkg-config --modversion lumen-ccl) || fail "pkg-config does not find lumen-ccl.pc"
[[ $got == "$cclver" ]] || fail "pkg-config --modversion lumen-ccl: $got, expected $cclver"
libs=$("${pc_env[@]}" pkg-config --libs lumen-ccl)
[[ " $libs " == *" -llumen-ccl "* && " $libs " == *" -llumen "* ]] ||
	fail "pkg-config --libs lumen-ccl: '$libs' (wants -llumen-ccl and, through lumen, -llumen)"
step "  $(wc -l <<<"$declared") functions, all declared, nothing else exported; --libs: $libs"

step "pkg-config"
pc_env=(env PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage")
got=$("${pc_env[@]}" pkg-config --modversion lumen) || fail "pkg-config does not find lumen.pc"
[[ $got == "$ver" ]] || fail "pkg-config --modversion lumen: $got, expected $ver"
"${pc_env[@]}" pkg-config --exists "lumen >= $major.0" || fail "pkg-config: 'lumen >= $major.0' not satisfied"
cflags=$("${pc_env[@]}" pkg-config --cflags lumen)
libs=$("${pc_env[@]}" pkg-config --libs lumen)
static=$("${pc_env[@]}" pkg-config --libs --static lumen)
[[ " $cflags " == *" -I$root/$includedir "* ]] || fail "pkg-config --cflags lumen: '$cflags'"
[[ " $libs " == *" -L$lib "* && " $libs " == *" -llumen "* ]] || fail "pkg-config --libs lumen: '$libs'"
[[ " $static " == *" -ldrm "* && " $static " == *" -ludev "* ]] ||
	fail "pkg-config --libs --static lumen lacks libdrm/libudev: '$static'"
# Without the sysroot the paths are the install prefix's.
prefix_var=$(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --variable=prefix lumen)
[[ $prefix_var == "$prefix" ]] || fail "lumen.pc prefix is '$prefix_var', expected $prefix"
step "  --cflags: $cflags"
step "  --libs:   $libs"

# --- 5. CMake package ----------------------------------------------------------------------
step "find_package(lumen $major) and the examples (CMake)"
probe=$out/find-package-probe
mkdir -p "$probe/src"
cat >"$probe/src/CMakeLists.txt" <<PROBE
cmake_minimum_required(VERSION 3.16)
project(lumen_probe LANGUAGES NONE)
find_package(lumen $major REQUIRED)
if(NOT TARGET lumen::lumen)
  message(FATAL_ERROR "no lumen::lumen target")
endif()
if(NOT lumen_VERSION VERSION_EQUAL "$ver")
  message(FATAL_ERROR "lumen_VERSION is \${lumen_VERSION}, expected $ver")
endif()
get_target_property(loc lumen::lumen LOCATION)
get_target_property(inc lumen::lumen INTERFACE_INCLUDE_DIRECTORIES)
if(NOT loc STREQUAL "$lib/liblumen.so.$ver" OR NOT "$root/$includedir" IN_LIST inc)
  message(FATAL_ERROR "lumen::lumen: LOCATION \${loc}, INTERFACE_INCLUDE_DIRECTORIES \${inc}")
endif()
find_package(lumen $((major + 1)) QUIET)
if(lumen_FOUND)
  message(FATAL_ERROR "find_package(lumen $((major + 1))) accepted version \${lumen_VERSION}")
endif()
PROBE
"$CMAKE" -S "$probe/src" -B "$probe/build" -DCMAKE_PREFIX_PATH="$root" >>"$log" 2>&1 ||
	{ tail -n 30 "$log" >&2; fail "find_package(lumen) probe failed (log: $log)"; }

"$CMAKE" -S "$src/runtime/examples" -B "$out/cmake" -DCMAKE_PREFIX_PATH="$root" \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$out/bin" \
	-DCMAKE_COMPILE_WARNING_AS_ERROR=ON >>"$log" 2>&1 ||
	{ tail -n 30 "$log" >&2; fail "configuring runtime/examples failed (log: $log)"; }
"$CMAKE" --build "$out/cmake" -j 2 >>"$log" 2>&1 ||
	{ tail -n 30 "$log" >&2; fail "building runtime/examples with CMake failed (log: $log)"; }

# --- 6. pkg-config Makefile ------------------------------------------------------------------
step "the examples (pkg-config Makefile)"
mkdir -p "$out/pkgconfig"
"$MAKE" -s -f "$src/runtime/examples/Makefile" -C "$out/pkgconfig" \
	PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage" \
	CFLAGS="-O2 -g -Werror" CXXFLAGS="-O2 -g -Werror" >>"$log" 2>&1 ||
	{ tail -n 30 "$log" >&2; fail "building runtime/examples with its Makefile failed (log: $log)"; }

# --- 7. the binaries ---------------------------------------------------------------------------
step "example binaries"
examples=()
for f in "$out/bin"/* "$out/pkgconfig"/*; do
	[[ -f $f && -x $f ]] && examples+=("$f")
done
for e in vector_copy two_streams peer_ring fabric_info vector_copy_cpp ccl_all_reduce; do
	[[ -x $out/bin/$e && -x $out/pkgconfig/$e ]] || fail "example $e was not built both ways"
done
for f in "${examples[@]}"; do
	readelf -d "$f" | grep -q "(NEEDED).*\[liblumen.so.$major\]" ||
		[[ ${f##*/} == ccl_* ]] || fail "${f#"$build"/} does not link liblumen.so.$major"
done
for f in "$out/bin/ccl_all_reduce" "$out/pkgconfig/ccl_all_reduce"; do
	readelf -d "$f" | grep -q "(NEEDED).*\[liblumen-ccl.so.$cclmajor\]" ||
		fail "${f#"$build"/} does not link liblumen-ccl.so.$cclmajor"
done
for f in "$out/bin"/*; do
	resolved=$(ldd "$f" | awk '$1 == "liblumen.so.'"$major"'" { print $3 }')
	[[ $resolved == "$lib/liblumen.so.$major" ]] ||
		fail "${f#"$build"/}: liblumen.so.$major resolves to '$resolved', not the staged $lib"
done
if [[ ! -e /dev/accel ]]; then
	# No card on the host: the example must load (every symbol bound) and
	# fail with a message, not crash.
	rc=0
	msg=$(LD_BIND_NOW=1 LD_LIBRARY_PATH="$lib" "$out/pkgconfig/vector_copy" 2>&1) || rc=$?
	[[ $rc == 1 ]] || fail "vector_copy without a device exited $rc (expected 1): $msg"
	[[ $msg == *"vector_copy: "* ]] || fail "vector_copy without a device said: $msg"
	step "  without a device: $(grep -m1 "vector_copy: " <<<"$msg")"
fi
# No fabric manager: the fabric example fails with a message naming it.
rc=0
msg=$(LUMEN_FM_SOCKET="$build/no-such-fm.sock" LD_BIND_NOW=1 LD_LIBRARY_PATH="$lib" \
	"$out/pkgconfig/fabric_info" 2>&1) || rc=$?
[[ $rc == 1 && $msg == *"LUMEN_ERROR_FABRIC_UNAVAILABLE"*"no-such-fm.sock"* ]] ||
	fail "fabric_info without a fabric manager exited $rc: $msg"
step "  without a fabric manager: $msg"
step "OK: ${#examples[@]} example binaries in ${out#"$build"/}; staged tree ${stage#"$build"/}"
