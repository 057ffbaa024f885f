#!/bin/sh
# build.sh reassembles every .wat fixture in this directory into the .wasm
# next to it with wat2wasm (wabt; written with 1.0.32) and its default
# features, no debug names. The output is deterministic: running it again
# gives byte-identical files.
#
#   ./build.sh          rewrite every .wasm
#   ./build.sh -check   rebuild into a temporary directory and fail if any
#                       committed .wasm differs from its .wat (for CI)
#
# It also checks that the "relay core" copied from ok_plain.wat into
# global_marker.wat, start_exit0.wat and dial_flood.wat is still verbatim.
set -eu
cd "$(dirname "$0")"

command -v wat2wasm >/dev/null 2>&1 || {
	echo "build.sh: wat2wasm not found (install wabt)" >&2
	exit 1
}

core() { sed -n '/;; ---- relay core begin ----/,/;; ---- relay core end ----/p' "$1"; }
want=$(core ok_plain.wat)
for f in global_marker.wat start_exit0.wat dial_flood.wat; do
	if [ "$(core "$f")" != "$want" ]; then
		echo "build.sh: the relay core of $f differs from ok_plain.wat" >&2
		exit 1
	fi
done

check=false
[ "${1:-}" = "-check" ] && check=true
out=.
if $check; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi

status=0
for wat in *.wat; do
	wasm=${wat%.wat}.wasm
	wat2wasm "$wat" -o "$out/$wasm"
	if $check && ! cmp -s "$out/$wasm" "$wasm"; then
		echo "build.sh: $wasm is not what $wat assembles to" >&2
		status=1
	fi
done
exit $status
