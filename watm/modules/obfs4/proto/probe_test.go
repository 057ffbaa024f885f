package proto

import (
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm/watmtest"
)

// probeIdentity returns an identity whose close delay is 0 s and whose
// byte budget is at least minBudget, so probe tests take about the
// (shortened) handshake limit.
func probeIdentity(t *testing.T, minBudget int) (*ServerIdentity, int) {
	t.Helper()
	for {
		id := testIdentity(t, 0)
		budget, delay := closeParams(&id.DRBGSeed)
		if delay == 0 && budget >= minBudget {
			return id, budget
		}
	}
}

type probeResult struct {
	err      error
	elapsed  time.Duration // until ServerHandshake returned
	received int           // bytes the prober got back
}

// probe runs our server (handshake limit limit) against send, then closes
// the server's end and counts what the prober received.
func probe(t *testing.T, id *ServerIdentity, replay ReplayFilter, limit time.Duration, send func(net.Conn)) probeResult {
	t.Helper()
	cRaw, sRaw := watmtest.Pair(t)
	tm := defaultTiming()
	tm.serverLimit = limit
	start := time.Now()
	done := make(chan probeResult, 1)
	go func() {
		c, err := serverHandshake(sRaw, id, replay, rand.Reader, tm)
		if c != nil {
			c.Close()
		}
		done <- probeResult{err: err, elapsed: time.Since(start)}
	}()
	var sender sync.WaitGroup
	sender.Add(1)
	go func() {
		defer sender.Done()
		send(cRaw)
	}()
	var res probeResult
	select {
	case res = <-done:
	case <-time.After(limit + 30*time.Second):
		t.Fatalf("ServerHandshake did not return within %v", limit+30*time.Second)
	}
	sRaw.Close()
	sender.Wait()
	cRaw.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, cRaw)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("prober's read after the server closed: %v (want EOF or reset)", err)
	}
	res.received = int(n)
	return res
}

func writeAll(c net.Conn, parts ...[]byte) {
	for _, p := range parts {
		if _, err := c.Write(p); err != nil {
			return
		}
	}
}

// checkSilentFailure: the server failed, sent nothing, and returned no
// earlier than minElapsed.
func checkSilentFailure(t *testing.T, res probeResult, want error, minElapsed time.Duration) {
	t.Helper()
	if res.err == nil {
		t.Fatalf("ServerHandshake succeeded")
	}
	if want != nil && !errors.Is(res.err, want) {
		t.Fatalf("ServerHandshake error = %v, want %v", res.err, want)
	}
	if res.received != 0 {
		t.Fatalf("the server sent %d bytes to a prober; want none", res.received)
	}
	if res.elapsed < minElapsed {
		t.Fatalf("ServerHandshake returned after %v, before the close delay %v", res.elapsed, minElapsed)
	}
}

func TestProbeRandomBytes(t *testing.T) {
	const limit = 1500 * time.Millisecond
	id, budget := probeIdentity(t, 2)
	t.Run("short", func(t *testing.T) {
		// Fewer bytes than a handshake: the server waits out its limit.
		res := probe(t, id, NewMemReplayFilter(time.Hour), limit, func(c net.Conn) {
			writeAll(c, randomBytes(t, 1000))
		})
		checkSilentFailure(t, res, os.ErrDeadlineExceeded, limit)
	})
	t.Run("full", func(t *testing.T) {
		// 8192 bytes with no mark fail at once, then the server discards
		// up to its budget; one byte short of it, it waits for the delay.
		res := probe(t, id, NewMemReplayFilter(time.Hour), limit, func(c net.Conn) {
			writeAll(c, randomBytes(t, maxHandshakeLength), randomBytes(t, budget-1))
		})
		checkSilentFailure(t, res, errBadMAC, limit)
	})
}

func TestProbeByteBudgetEndsTheWait(t *testing.T) {
	const limit = 20 * time.Second
	id, budget := probeIdentity(t, 2)
	res := probe(t, id, NewMemReplayFilter(time.Hour), limit, func(c net.Conn) {
		writeAll(c, randomBytes(t, maxHandshakeLength), randomBytes(t, budget))
	})
	checkSilentFailure(t, res, errBadMAC, 0)
	if res.elapsed >= limit {
		t.Fatalf("with its byte budget used up the server still waited %v", res.elapsed)
	}
}

// recordingConn keeps what was written through it.
type recordingConn struct {
	net.Conn
	mu      sync.Mutex
	written []byte
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.written = append(r.written, p...)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

// clientHelloBytes runs a real handshake and returns the client's
// handshake message as sent.
func clientHelloBytes(t *testing.T, id *ServerIdentity, replay ReplayFilter, tm timing) []byte {
	t.Helper()
	cRaw, sRaw := watmtest.Pair(t)
	rec := &recordingConn{Conn: cRaw}
	var wg sync.WaitGroup
	wg.Add(1)
	var serr error
	go func() {
		defer wg.Done()
		_, serr = ServerHandshake(sRaw, id, replay, rand.Reader)
	}()
	_, cerr := clientHandshake(rec, clientArgsOf(id), rand.Reader, tm)
	wg.Wait()
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	return rec.written
}

func TestProbeReplayedHandshake(t *testing.T) {
	const limit = 1500 * time.Millisecond
	id, _ := probeIdentity(t, 0)
	replay := NewMemReplayFilter(time.Hour)
	hello := clientHelloBytes(t, id, replay, defaultTiming())
	res := probe(t, id, replay, limit, func(c net.Conn) { writeAll(c, hello) })
	checkSilentFailure(t, res, errReplay, limit)
}

func TestProbeBadMark(t *testing.T) {
	const limit = 1500 * time.Millisecond
	id, _ := probeIdentity(t, 0)
	hello := clientHelloBytes(t, id, NewMemReplayFilter(time.Hour), defaultTiming())
	hello[len(hello)-macLength-1] ^= 1 // last byte of M_C
	res := probe(t, id, NewMemReplayFilter(time.Hour), limit, func(c net.Conn) { writeAll(c, hello) })
	// Without its mark the message looks incomplete: the server waits for
	// more until its limit.
	checkSilentFailure(t, res, os.ErrDeadlineExceeded, limit)
}

func TestProbeBadMAC(t *testing.T) {
	const limit = 1500 * time.Millisecond
	id, _ := probeIdentity(t, 0)
	hello := clientHelloBytes(t, id, NewMemReplayFilter(time.Hour), defaultTiming())
	hello[len(hello)-1] ^= 1
	res := probe(t, id, NewMemReplayFilter(time.Hour), limit, func(c net.Conn) { writeAll(c, hello) })
	checkSilentFailure(t, res, errBadMAC, limit)
}

// TestEpochHourSkew: a client clock one hour off is accepted, two hours
// off is refused silently.
func TestEpochHourSkew(t *testing.T) {
	id, _ := probeIdentity(t, 0)
	for _, skew := range []time.Duration{-time.Hour, time.Hour} {
		tm := defaultTiming()
		tm.now = func() time.Time { return time.Now().Add(skew) }
		clientHelloBytes(t, id, NewMemReplayFilter(time.Hour), tm)
	}
	for _, skew := range []time.Duration{-2 * time.Hour, 2 * time.Hour} {
		tm := defaultTiming()
		tm.now = func() time.Time { return time.Now().Add(skew) }
		cRaw, sRaw := watmtest.Pair(t)
		hello, err := clientHelloBytesUnanswered(id, tm)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cRaw.Write(hello); err != nil {
			t.Fatal(err)
		}
		stm := defaultTiming()
		stm.serverLimit = 500 * time.Millisecond
		_, err = serverHandshake(sRaw, id, NewMemReplayFilter(time.Hour), rand.Reader, stm)
		if !errors.Is(err, errBadMAC) {
			t.Fatalf("client clock %v off: server error %v, want %v", skew, err, errBadMAC)
		}
	}
}

// clientHelloBytesUnanswered builds a client handshake message with the
// given clock.
func clientHelloBytesUnanswered(id *ServerIdentity, tm timing) ([]byte, error) {
	key, err := newSessionKey(NativeCurve{}, rand.Reader)
	if err != nil {
		return nil, err
	}
	pad := make([]byte, clientMinPadLength+10)
	if _, err := rand.Read(pad); err != nil {
		return nil, err
	}
	msg, _ := clientHello(handshakeMAC(&id.PublicKey, &id.NodeID), key, pad, tm.now())
	return msg, nil
}
