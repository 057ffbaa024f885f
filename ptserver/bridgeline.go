package ptserver

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// BridgeLineFile is written in the state directory when the server starts.
const BridgeLineFile = "water_bridgeline.txt"

// WriteBridgeLine writes the Bridge line a client needs for each method,
// with the same ARGS tor publishes. tor keeps its fingerprint in the data
// directory, one level above the PT state directory; when that file is
// there the line carries the real fingerprint, otherwise <FINGERPRINT>.
func WriteBridgeLine(stateDir string, methods []*Method) error {
	fp := readFingerprint(stateDir)
	var b strings.Builder
	b.WriteString(`# water-pt bridge line(s).
#
# Give this line to your users (they put it in their torrc, after
# "UseBridges 1" and a "ClientTransportPlugin water exec /path/to/water-pt"
# line). Replace <IP ADDRESS> with your bridge's public address` + ifFP(fp) + `.
# The port is the one water-pt listens on (ServerTransportListenAddr).
# watm= names the module, watm-sha256= pins it: a client needs the same
# module (embedded in water-pt, or NAME.wasm in its -watm-dir).
`)
	for _, m := range methods {
		addr := m.AdvertisedAddr()
		host := "<IP ADDRESS>"
		if !addr.IP.IsUnspecified() {
			host = addr.IP.String()
		}
		fmt.Fprintf(&b, "Bridge %s %s %s %s\n", m.Bindaddr.MethodName,
			net.JoinHostPort(host, fmt.Sprint(addr.Port)), fp, bridgeArgs(m))
	}
	tmp := filepath.Join(stateDir, BridgeLineFile+".tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(stateDir, BridgeLineFile))
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
