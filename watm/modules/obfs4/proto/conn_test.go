package proto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm/watmtest"
)

func testIdentity(t testing.TB, iat int) *ServerIdentity {
	t.Helper()
	id, err := NewServerIdentity(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id.IATMode = iat
	return id
}

func clientArgsOf(id *ServerIdentity) ClientArgs {
	return ClientArgs{NodeID: id.NodeID, PublicKey: id.PublicKey, IATMode: id.IATMode}
}

// handshakePair runs both handshakes over the two ends.
func handshakePair(t testing.TB, cRaw, sRaw net.Conn, id *ServerIdentity) (client, server net.Conn) {
	t.Helper()
	var wg sync.WaitGroup
	var serr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		server, serr = ServerHandshake(sRaw, id, NewMemReplayFilter(time.Hour), rand.Reader)
	}()
	client, cerr := ClientHandshake(cRaw, clientArgsOf(id), rand.Reader)
	wg.Wait()
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	return client, server
}

// exchange sends a (client to server) and b (server to client) at the same
// time and checks both arrive byte for byte. The readers go on reading
// (and must get nothing more) until both writers are done, as the padding
// after the last payload must be read for a net.Pipe writer to return.
func exchange(t testing.TB, client, server net.Conn, a, b []byte) {
	t.Helper()
	var writers, readers, arrived sync.WaitGroup
	send := func(c net.Conn, p []byte) {
		defer writers.Done()
		for off := 0; off < len(p); {
			n := min(len(p)-off, 50000)
			if _, err := c.Write(p[off : off+n]); err != nil {
				t.Errorf("write: %v", err)
				return
			}
			off += n
		}
	}
	recv := func(c net.Conn, want []byte, name string) {
		defer readers.Done()
		got := make([]byte, len(want))
		_, err := io.ReadFull(c, got)
		arrived.Done()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes arrived but differ", name, len(want))
		}
		n, err := c.Read(got[:1])
		if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: read after the data = %d, %v; want 0 and a deadline error", name, n, err)
		}
	}
	writers.Add(2)
	readers.Add(2)
	arrived.Add(2)
	go send(client, a)
	go send(server, b)
	go recv(server, a, "client to server")
	go recv(client, b, "server to client")
	writers.Wait()
	arrived.Wait()
	client.SetReadDeadline(time.Now())
	server.SetReadDeadline(time.Now())
	readers.Wait()
	client.SetReadDeadline(time.Time{})
	server.SetReadDeadline(time.Time{})
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTripAllIATModes(t *testing.T) {
	sizes := map[int]int{0: 8 << 20, 1: 256 << 10, 2: 64 << 10}
	for iat := 0; iat <= 2; iat++ {
		for _, transport := range []string{"pipe", "tcp"} {
			t.Run(fmt.Sprintf("iat%d/%s", iat, transport), func(t *testing.T) {
				id := testIdentity(t, iat)
				var c, s net.Conn
				if transport == "pipe" {
					c, s = net.Pipe()
					t.Cleanup(func() { c.Close(); s.Close() })
				} else {
					c, s = watmtest.Pair(t)
				}
				client, server := handshakePair(t, c, s, id)
				exchange(t, client, server, []byte("hello"), []byte("world!"))
				exchange(t, client, server, randomBytes(t, sizes[iat]), randomBytes(t, sizes[iat]/2+7))
				if err := client.Close(); err != nil {
					t.Fatal(err)
				}
				if n, err := server.Read(make([]byte, 10)); n != 0 || !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
					t.Fatalf("server Read after client Close = %d, %v; want 0, EOF", n, err)
				}
			})
		}
	}
}

// TestClientTakesTheServersDistributions: the server's PRNG seed frame
// arrives with its handshake, so the client pads with the server's length
// and delay tables from its first Write.
func TestClientTakesTheServersDistributions(t *testing.T) {
	id := testIdentity(t, 1)
	c, s := watmtest.Pair(t)
	client, _ := handshakePair(t, c, s, id)
	cc := client.(*conn)
	want := newWeightedDist(&id.DRBGSeed, 0, maxSegmentLength, cc.coins)
	iatSeed := iatSeedOf(&id.DRBGSeed)
	wantIAT := newWeightedDist(&iatSeed, 0, maxIATDelay, cc.coins)
	if !slices.Equal(cc.lenDist.values, want.values) || !slices.Equal(cc.lenDist.prob, want.prob) {
		t.Fatalf("client length table %v, server's %v", cc.lenDist.values, want.values)
	}
	if !slices.Equal(cc.iatDist.values, wantIAT.values) {
		t.Fatalf("client delay table %v, server's %v", cc.iatDist.values, wantIAT.values)
	}
}
