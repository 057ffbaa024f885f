// Package modules holds the WebAssembly Transport Modules (WATMs) that
// water-pt ships, compiled and embedded in the binary.
//
// Each module's source is the package main in ./NAME (written on
// watm/guest, with its transform in ./transform); the built NAME.wasm next
// to it is committed and embedded here. After changing a module or the
// guest packages, rebuild with
//
//	go generate ./watm/modules
//
// which runs gen.sh; the package's test fails when a committed .wasm is not
// what the current source builds to.
//
// The modules:
//
//   - plain: the identity transform. WATER v0.
//   - reverse: reverses the bit order of every byte, both ways. WATER v0.
//   - plain_v1: the identity transform behind the WATER v1 ABI.
//   - obfs4: the default; the obfs4 protocol of lyrebird and obfs4proxy (./obfs4/proto)
//     on the connection-level SDK (watm/guest/stream). WATER v0; imports
//     water_seen for its replay filter, and seals frames with the host's
//     secretbox service (/water) when the host has one. Its args are in
//     ./obfs4/main.go.
//
// The ABIs are described in watm/guest/v0 and watm/guest/v1.
package modules

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:generate sh gen.sh

// Default is the name of the module used when none is chosen.
const Default = "obfs4"

//go:embed *.wasm
var files embed.FS

// Lookup returns a copy of the named module's WebAssembly binary.
func Lookup(name string) ([]byte, bool) {
	if name == "" || strings.ContainsAny(name, "/.\\") {
		return nil, false
	}
	b, err := files.ReadFile(name + ".wasm")
	if err != nil {
		return nil, false
	}
	return b, true
}

// Names returns the names of the shipped modules, sorted.
func Names() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(err) // the root of an embed.FS always reads
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".wasm"); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
