package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
)

// The relay role from the command line: an app's plain TCP connection goes
// into "water-pt relay", whose module wraps it towards a "water-pt server",
// whose module unwraps it for a backend. The backend checks what arrives
// against one stream and sends another back, which the app checks, so a
// relay that did not wrap (or wrapped differently) corrupts both ways; the
// echo an identity chain could hide behind is not used.
func TestRelay(t *testing.T) {
	bin := tortest.Build(t)
	const n = 64 << 20
	for _, tc := range []struct {
		name, relayModule string
		wantMismatch      bool
	}{
		{"reverse", "reverse", false},
		// The control: a relay that does not wrap as the server unwraps.
		{"mismatched", "plain", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			backend := startCheckingBackend(t, n)
			server := tortest.Start(t, bin, standaloneEnv(t), append([]string{"server", "-listen", "127.0.0.1:0",
				"-forward", backend.addr(), "-options", "watm=reverse"}, wazeroCacheArgs(t)...)...)
			l, err := server.WaitLine(ctx, "water-pt server: listening on ")
			if err != nil {
				t.Fatal(err)
			}
			serverAddr := parseListenLine(t, l.Text, "water-pt server: listening on ", ", forwarding to "+backend.addr())
			relay := tortest.Start(t, bin, standaloneEnv(t), append([]string{"relay", "-listen", "127.0.0.1:0",
				"-to", serverAddr, "-args", "watm=" + tc.relayModule}, wazeroCacheArgs(t)...)...)
			l, err = relay.WaitLine(ctx, "water-pt relay: listening on ")
			if err != nil {
				t.Fatal(err)
			}
			relayAddr := parseListenLine(t, l.Text, "water-pt relay: listening on ", ", relaying to "+serverAddr)

			c, err := net.Dial("tcp", relayAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			deadline, _ := ctx.Deadline()
			c.SetDeadline(deadline)
			appErr := exchange(c, n, seedUp, seedDown)
			var backendErr error
			select {
			case backendErr = <-backend.results:
			case <-ctx.Done():
				t.Fatalf("the backend did not finish its exchange (app: %v)", appErr)
			}
			if tc.wantMismatch {
				var mm *tortest.MismatchError
				if !errors.As(backendErr, &mm) {
					t.Fatalf("through a relay that does not wrap, the backend got %v; want a stream mismatch", backendErr)
				}
				return
			}
			if appErr != nil || backendErr != nil {
				t.Fatalf("app: %v; backend: %v", appErr, backendErr)
			}
			// Signals as for client and server: SIGTERM ends it cleanly.
			if _, err := relay.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code, _, err := relay.Wait(30 * time.Second); err != nil || code != 0 {
				t.Fatalf("after SIGTERM the relay exited with %d, %v; want 0", code, err)
			}
		})
	}
}

// The seeds of the two directions' streams: app to backend, and back.
const (
	seedUp   = 11
	seedDown = 12
)

// exchange writes n bytes of the stream of seedOut to c while reading n
// bytes and checking them against the stream of seedIn.
func exchange(c net.Conn, n int64, seedOut, seedIn uint64) error {
	werr := make(chan error, 1)
	go func() {
		_, err := tortest.NewStream(seedOut).WriteN(c, n)
		werr <- err
	}()
	got, rerr := io.Copy(tortest.NewChecker(seedIn), io.LimitReader(c, n))
	if rerr == nil && got != n {
		rerr = fmt.Errorf("got %d bytes of %d: %w", got, n, io.ErrUnexpectedEOF)
	}
	if rerr != nil {
		c.SetDeadline(time.Unix(1, 0)) // unblock the writer
	}
	if err := <-werr; err != nil && rerr == nil {
		return fmt.Errorf("writing: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("reading: %w", rerr)
	}
	return nil
}

// checkingBackend runs exchange (with the seeds swapped) on each
// connection it accepts and sends the result on results.
type checkingBackend struct {
	ln      net.Listener
	results chan error
}

func startCheckingBackend(t *testing.T, n int64) *checkingBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &checkingBackend{ln: ln, results: make(chan error, 16)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(3 * time.Minute))
				select {
				case b.results <- exchange(c, n, seedDown, seedUp):
				default:
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return b
}

func (b *checkingBackend) addr() string { return b.ln.Addr().String() }
