package ptserver

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// BridgeLineFile is written in the state directory when the server starts,
// for the methods of transport water.
const BridgeLineFile = "water_bridgeline.txt"

// Obfs4BridgeLineFile holds the methods of transport obfs4, where lyrebird
// and obfs4proxy write theirs.
const Obfs4BridgeLineFile = "obfs4_bridgeline.txt"

// WriteBridgeLine writes the Bridge line a client needs for each method,
// with the same ARGS tor publishes: one file per transport
// (BridgeLineFile, Obfs4BridgeLineFile). tor keeps its fingerprint in the
// data directory, one level above the PT state directory; when that file
// is there the line carries the real fingerprint, otherwise <FINGERPRINT>.
func WriteBridgeLine(stateDir string, methods []*Method) error {
	fp := readFingerprint(stateDir)
	byName := map[string][]*Method{}
	for _, m := range methods {
		byName[m.Bindaddr.MethodName] = append(byName[m.Bindaddr.MethodName], m)
	}
	for name, ms := range byName {
		file := BridgeLineFile
		if name == Obfs4Method {
			file = Obfs4BridgeLineFile
		}
		if err := writeFileAtomic(filepath.Join(stateDir, file), []byte(bridgeLines(name, fp, ms))); err != nil {
			return err
		}
	}
	return nil
}

func bridgeLines(name, fp string, methods []*Method) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# water-pt bridge line(s) for transport %s.
#
# Give this line to your users (they put it in their torrc, after
# "UseBridges 1" and a "ClientTransportPlugin %s exec /path/to/water-pt"
# line). Replace <IP ADDRESS> with your bridge's public address`+ifFP(fp)+`.
# The port is the one water-pt listens on (ServerTransportListenAddr).
`, name, name)
	if name == Obfs4Method {
		b.WriteString(`# cert= and iat-mode= come from the identity in obfs4_state.json (or the
# ServerTransportOptions): obfs4proxy and lyrebird clients reach this
# bridge with the same line ("ClientTransportPlugin obfs4 exec ...").
`)
	} else {
		b.WriteString(`# watm= names the module, watm-sha256= pins it: a client needs the same
# module (embedded in water-pt, or NAME.wasm in its -watm-dir).
`)
	}
	for _, m := range methods {
		addr := m.AdvertisedAddr()
		host := "<IP ADDRESS>"
		if !addr.IP.IsUnspecified() {
			host = addr.IP.String()
		}
		fmt.Fprintf(&b, "Bridge %s %s %s %s\n", name,
			net.JoinHostPort(host, fmt.Sprint(addr.Port)), fp, bridgeArgs(m))
	}
	return b.String()
}

func ifFP(fp string) string {
	if fp == "<FINGERPRINT>" {
		return ", and <FINGERPRINT> with the\n# fingerprint in tor's DataDirectory/fingerprint file"
	}
	return ""
}

// bridgeArgs formats ARGS as bridge-line k=v words, sorted by key.
func bridgeArgs(m *Method) string {
	keys := make([]string, 0, len(m.Args))
	for k := range m.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var words []string
	for _, k := range keys {
		for _, v := range m.Args[k] {
			words = append(words, k+"="+v)
		}
	}
	return strings.Join(words, " ")
}

// readFingerprint reads "nickname FINGERPRINT" from DataDirectory/fingerprint.
func readFingerprint(stateDir string) string {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Clean(stateDir)), "fingerprint"))
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 && len(f[1]) == 40 {
			return f[1]
		}
	}
	return "<FINGERPRINT>"
}
