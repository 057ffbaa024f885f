// Package waterpt is the root of water-pt, a Tor Pluggable Transports v1
// managed proxy that runs WebAssembly Transport Modules (WATMs).
//
// The binary is in cmd/water-pt; the WATM runtime is in watm; the client and
// server halves of the pluggable transport are in ptclient and ptserver.
package waterpt
