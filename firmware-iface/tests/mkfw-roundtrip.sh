#!/bin/sh
# lumen-mkfw end to end: a built image checks out, every corruption kind is
# refused by --check with the status that names it, bad flags are refused.
set -u
mkfw=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
pass=0

expect() { # expect <exit-status> <grep-pattern|-> <command...>
	want=$1 pat=$2
	shift 2
	out=$("$@" 2>&1)
	got=$?
	if [ "$got" != "$want" ] || { [ "$pat" != - ] && ! printf '%s' "$out" | grep -q "$pat"; }; then
		echo "FAIL: $* -> exit $got (want $want, /$pat/): $out"
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
}

expect 0 - "$mkfw" --version 2.3.4 --build-id rt --output "$dir/good.fw"
expect 0 'version:      2.3.4' "$mkfw" --check "$dir/good.fw"
expect 0 'build id:     rt' "$mkfw" --check "$dir/good.fw"
for kind in magic:'bad magic' header-crc:'checksum mismatch' payload-crc:'checksum mismatch' \
	    abi:'incompatible ABI' size:'bad size' flags:'reserved field set' truncate:'bad size'; do
	k=${kind%%:*}
	expect 0 - "$mkfw" --corrupt "$k" --input "$dir/good.fw" --output "$dir/$k.fw"
	expect 1 "${kind#*:}" "$mkfw" --check "$dir/$k.fw"
done
expect 2 'not X.Y.Z' "$mkfw" --version 1.2 --output "$dir/x.fw"
expect 2 'not X.Y.Z' "$mkfw" --version 1.2.300 --output "$dir/x.fw"
expect 2 'longer than' "$mkfw" --build-id 0123456789012345678901234567890123 --output "$dir/x.fw"
expect 2 'payload-size' "$mkfw" --payload-size 99999999999 --output "$dir/x.fw"
expect 2 'unknown corruption' "$mkfw" --corrupt bogus --input "$dir/good.fw" --output "$dir/x.fw"
expect 1 'No such file' "$mkfw" --check "$dir/missing.fw"
# Same inputs, same bytes: images are reproducible.
"$mkfw" --version 2.3.4 --build-id rt --output "$dir/again.fw"
expect 0 - cmp "$dir/good.fw" "$dir/again.fw"

echo "mkfw_roundtrip: $pass passed, $fail failed"
[ "$fail" = 0 ]
