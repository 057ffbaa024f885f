// Package tortest is a fake tor parent for integration tests of pluggable
// transports: it starts a PT binary through the PT v1 managed-proxy
// interface exactly as tor does, and talks to it as tor does.
//
//   - Build builds cmd/water-pt once per test process (Builder for any other
//     main package; Main removes the binary after the tests).
//   - ClientEnv and ServerEnv build the environment tor sets, and only that
//     (plus PATH and HOME), so tests do not depend on the machine.
//   - Start runs the PT with its stdin held open, parses stdout into Lines
//     (VERSION, CMETHOD, SMETHOD with ARGS, LOG, STATUS, ...), captures
//     stderr, and measures exit time from CloseStdin or Signal. WaitDone
//     checks the configuration protocol the way tor would.
//   - DialSOCKS is tor's SOCKS5 client side: bridge-line arguments encoded
//     and split across the RFC 1929 username and password as tor does, and the
//     reply code returned so tests can assert why a dial failed.
//   - CheckEcho and the Stream/Checker pair (shared with extortest) move
//     deterministic pseudo-random data and check it byte for byte.
//   - StartPair wires it all: an extortest ExtORPort, a server PT, a client PT
//     and the server's SMETHOD ARGS as the client's bridge arguments.
//
// A typical test:
//
//	func TestMain(m *testing.M) { os.Exit(tortest.Main(m)) }
//
//	func TestEcho(t *testing.T) {
//		p := tortest.StartPair(t, tortest.PairConfig{Binary: tortest.Build(t), Transport: "water"})
//		c, err := p.Dial(ctx)
//		...
//		if err := tortest.CheckEcho(c, 1<<20); err != nil { t.Fatal(err) }
//		if d, err := p.Stop(time.Second); err != nil || d > time.Second { ... }
//	}
//
// The self-tests use testdata/fakept, a minimal goptlib PT (plain relay, no
// obfuscation) that doubles as a baseline for comparisons.
package tortest
