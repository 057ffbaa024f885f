#!/bin/sh
# gen.sh builds every WATM in this directory, ./NAME/main.go -> NAME.wasm,
# reproducibly: the same source and Go version give the same bytes.
#
#	sh gen.sh [OUTDIR]	(OUTDIR defaults to this directory)
#
# Run it through `go generate ./watm/modules`; the package's tests run it
# into a temporary directory to find stale .wasm files.
set -eu
out=$(cd "${1:-$(dirname "$0")}" && pwd)
cd "$(dirname "$0")"
for main in */main.go; do
	name=${main%/main.go}
	# GOFLAGS and GOWASM are cleared and VCS stamping is off so that the
	# environment and the commit do not leak into the bytes. The tag
	# waterpt_reseed exports waterpt_reseed, which lets the host start
	# instances from a snapshot taken after _initialize; it reaches into
	# the runtime by go:linkname, hence -checklinkname=0 (see
	# watm/guest/internal/reseed).
	GOOS=wasip1 GOARCH=wasm GOFLAGS= GOWASM= CGO_ENABLED=0 \
		go build -buildmode=c-shared -trimpath -buildvcs=false -tags=waterpt_reseed \
		-ldflags='-buildid= -checklinkname=0' \
		-o "$out/$name.wasm" "./$name"
done
