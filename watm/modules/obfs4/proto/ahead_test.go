package proto

import (
	"bytes"
	"crypto/rand"
	"net"
	"sync"
	"testing"
	"time"
)

// firstWrite records the first bytes written on a conn.
type firstWrite struct {
	net.Conn
	mu    sync.Mutex
	first []byte
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.mu.Lock()
	if f.first == nil {
		f.first = bytes.Clone(p)
	}
	f.mu.Unlock()
	return f.Conn.Write(p)
}

// TestHandshakeWithSessionKeysDrawnAhead: each side given a key drawn by
// NewSessionKey opens its handshake with that key's representative, and
// the connection carries data both ways.
func TestHandshakeWithSessionKeysDrawnAhead(t *testing.T) {
	id := testIdentity(t, 0)
	kc, err := NewSessionKey(nil, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewSessionKey(nil, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	cw, sw := &firstWrite{Conn: c}, &firstWrite{Conn: s}
	var (
		wg     sync.WaitGroup
		server net.Conn
		serr   error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		server, serr = Options{SessionKey: ks}.ServerHandshake(sw, id, NewMemReplayFilter(time.Hour), rand.Reader)
	}()
	client, cerr := Options{SessionKey: kc}.ClientHandshake(cw, clientArgsOf(id), rand.Reader)
	wg.Wait()
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	for _, side := range []struct {
		name string
		w    *firstWrite
		k    *SessionKey
	}{{"client", cw, kc}, {"server", sw, ks}} {
		if len(side.w.first) < 32 || !bytes.Equal(side.w.first[:32], side.k.k.representative[:]) {
			t.Errorf("the %s's handshake does not open with its key's representative", side.name)
		}
	}
	exchange(t, client, server, []byte("up"), []byte("down"))
}
