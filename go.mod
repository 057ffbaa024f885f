module github.com/water-pt/water-pt

go 1.26.0

require (
	filippo.io/edwards25519 v1.2.0
	github.com/tetratelabs/wazero v1.12.0
	gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib v1.6.0
	golang.org/x/crypto v0.58.0
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
)
