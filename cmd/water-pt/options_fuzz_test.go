package main

import (
	"bytes"
	"strings"
	"testing"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/ptserver"
	"github.com/water-pt/water-pt/watm/catalog"
)

// FuzzServerTransportOptions: TOR_PT_SERVER_TRANSPORT_OPTIONS is parsed by
// goptlib (serverSetup), then water-pt reads its keys (catalog.ParseSpec,
// watm-client-config). Neither may panic, whatever the torrc holds; a
// failure must be an ENV-ERROR line.
func FuzzServerTransportOptions(f *testing.F) {
	for _, s := range []string{
		"water:watm=plain",
		`water:watm=reverse;water:watm-config=YWJj;water:watm-client-config=eHl6`,
		`water:watm-sha256=` + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		`water:k=a\;b\:c\\`,
		"water:",
		"water",
		`water:k=\`,
		"other:x=1;water:watm=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, opts string) {
		if strings.IndexByte(opts, 0) >= 0 {
			return // an environment variable cannot hold one
		}
		var out bytes.Buffer
		stdout := pt.Stdout
		pt.Stdout = &out // ServerSetup prints VERSION, or ENV-ERROR
		t.Cleanup(func() { pt.Stdout = stdout })
		t.Setenv("TOR_PT_MANAGED_TRANSPORT_VER", "1")
		t.Setenv("TOR_PT_SERVER_TRANSPORTS", ptserver.MethodName)
		t.Setenv("TOR_PT_SERVER_BINDADDR", ptserver.MethodName+"-127.0.0.1:0")
		t.Setenv("TOR_PT_ORPORT", "127.0.0.1:1")
		t.Setenv("TOR_PT_EXTENDED_SERVER_PORT", "")
		t.Setenv("TOR_PT_SERVER_TRANSPORT_OPTIONS", opts)
		info, err := serverSetup()
		if err != nil {
			if !strings.Contains(out.String(), "\nENV-ERROR ") {
				t.Fatalf("setup failed (%v) without an ENV-ERROR line:\n%s", err, out.String())
			}
			return
		}
		for _, b := range info.Bindaddrs {
			if _, err := catalog.ParseSpec(b.Options.Get); err != nil {
				continue
			}
			if v, ok := b.Options.Get(catalog.ArgClientConfig); ok {
				_, _ = catalog.DecodeConfig(v)
			}
		}
	})
}
