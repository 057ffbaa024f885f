// Package integration drives the built water-pt binary the way tor does:
// the PT environment, stdout lines, SOCKS5 in with the server's SMETHOD
// ARGS as bridge args, and an ExtORPort (SAFE_COOKIE, USERADDR, TRANSPORT)
// out. The doubles are in integration/tortest and ptserver/extortest.
package integration

import (
	"os"
	"testing"

	"github.com/water-pt/water-pt/integration/tortest"
)

func TestMain(m *testing.M) { os.Exit(tortest.Main(m)) }
