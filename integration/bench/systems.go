package main

import (
	"fmt"
	"strings"

	"github.com/water-pt/water-pt/integration/tortest"
)

// System is one PT the bench measures: a binary, the transport tor asks it
// for, and the system its figures are compared with. The bench treats every
// system alike (launched as tor launches a PT, the server's SMETHOD ARGS as
// the bridge args); only the data below differs.
type System struct {
	Name      string `json:"name"`              // as printed and given to -systems
	Label     string `json:"label"`             // the markdown table's description
	Binary    string `json:"binary,omitempty"`  // the binary; "" builds Package
	Package   string `json:"package,omitempty"` // Go package built when Binary is ""
	Transport string `json:"transport"`         // TOR_PT_*_TRANSPORTS
	Versus    string `json:"versus,omitempty"`  // ratios over this system, when it runs too
	// Water marks a water-pt binary: Config's water-pt options (server
	// options, flags, environment, profiles, WaterBinary) apply to it.
	Water bool `json:"water,omitempty"`
	// DefaultServerOptions are the ServerTransportOptions used when
	// -server-options gives none.
	DefaultServerOptions []tortest.KV `json:"default_server_options,omitempty"`
}

// System names.
const (
	NameBaseline   = "baseline"
	NameWater      = "water-pt"
	NameObfs4proxy = "obfs4proxy"
	NameWaterObfs4 = "water-obfs4"
	NameBefore     = "water-pt-before"
)

// Obfs4proxyBinary is Debian's obfs4proxy, the reference obfs4 PT.
const Obfs4proxyBinary = "/usr/bin/obfs4proxy"

// Packages built when no binary is given.
const (
	waterPackage    = tortest.WaterPTPackage
	baselinePackage = "github.com/water-pt/water-pt/integration/tortest/testdata/fakept"
)

// KnownSystems returns the systems -systems can name, in the order they
// are reported.
func KnownSystems() []System {
	return []System{
		{Name: NameBaseline, Label: "baseline PT: goptlib + plain io.Copy, no WASM",
			Package: baselinePackage, Transport: "baseline"},
		{Name: NameWater, Label: "water-pt", Package: waterPackage,
			Transport: "water", Versus: NameBaseline, Water: true,
			// The identity module, which isolates what the runtime costs
			// (water's default module is obfs4, measured as water-obfs4).
			DefaultServerOptions: []tortest.KV{{Key: "watm", Value: "plain"}}},
		// Another water-pt build (-before-binary), measured in the same
		// rounds as water-pt, so that a change is compared in one run.
		{Name: NameBefore, Label: "water-pt, -before-binary", Package: waterPackage,
			Transport: "water", Versus: NameBaseline, Water: true,
			DefaultServerOptions: []tortest.KV{{Key: "watm", Value: "plain"}}},
		{Name: NameObfs4proxy, Label: "obfs4proxy (Debian)", Binary: Obfs4proxyBinary,
			Transport: "obfs4"},
		{Name: NameWaterObfs4, Label: "water-pt, transport obfs4", Package: waterPackage,
			Transport: "obfs4", Versus: NameObfs4proxy, Water: true},
	}
}

// DefaultSystems are the systems of the standard run.
const DefaultSystems = NameBaseline + "," + NameWater

// systemAliases are other names -systems accepts.
func systemAliases() map[string]string {
	return map[string]string{"water": NameWater, "obfs4": NameObfs4proxy}
}

// ParseSystems resolves a comma-separated list of system names.
func ParseSystems(list string) ([]System, error) {
	known := KnownSystems()
	var (
		out  []System
		seen = map[string]bool{}
	)
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if a, ok := systemAliases()[name]; ok {
			name = a
		}
		var found *System
		for i := range known {
			if known[i].Name == name {
				found = &known[i]
			}
		}
		switch {
		case name == "":
			return nil, fmt.Errorf("empty system name in %q", list)
		case found == nil:
			return nil, fmt.Errorf("unknown system %q; known: %s", name, strings.Join(systemNames(known), ", "))
		case seen[name]:
			return nil, fmt.Errorf("system %q listed twice", name)
		}
		seen[name] = true
		out = append(out, *found)
	}
	return out, nil
}

func systemNames(ss []System) []string {
	var names []string
	for _, s := range ss {
		names = append(names, s.Name)
	}
	return names
}

// withBefore adds system NameBefore to systems when binary (-before-binary)
// is given, and refuses NameBefore without it.
func withBefore(systems []System, binary string) ([]System, error) {
	listed := false
	for _, s := range systems {
		listed = listed || s.Name == NameBefore
	}
	switch {
	case listed && binary == "":
		return nil, fmt.Errorf("system %s needs -before-binary PATH (the other water-pt binary)", NameBefore)
	case listed || binary == "":
		return systems, nil
	}
	for _, s := range KnownSystems() {
		if s.Name == NameBefore {
			systems = append(systems, s)
		}
	}
	return systems, nil
}
