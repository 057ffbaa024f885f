package tortest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/water-pt/water-pt/ptserver/extortest"
)

// The deterministic data stream shared with extortest: the same seed gives
// the same bytes on both sides of a transport.
type (
	Stream        = extortest.Stream
	Checker       = extortest.Checker
	MismatchError = extortest.MismatchError
)

// NewStream returns the pseudo-random stream of seed (AES-128-CTR keystream,
// several GB/s). NewChecker returns a writer that compares against it.
func NewStream(seed uint64) *Stream { return extortest.NewStream(seed) }

// NewChecker returns an io.Writer (and io.ReaderFrom) that checks every byte
// against the stream of seed and reports the first difference as a
// *MismatchError with its offset.
func NewChecker(seed uint64) *Checker { return extortest.NewChecker(seed) }

// CheckEcho writes n bytes of the stream of extortest.DefaultSeed to conn
// while concurrently reading n bytes back and comparing them byte for byte;
// it returns nil if all n came back intact. A difference is a
// *MismatchError with the first bad offset; a read or write failure is
// returned with how far each side got.
//
// conn must be echoed (an extortest Echo server at the end of the chain). It
// is left open, with its write side open, so it can be used again (the next
// call starts the stream from offset 0 again). If CheckEcho fails it sets a
// past deadline on conn to stop its writer, so conn is then unusable.
func CheckEcho(conn net.Conn, n int) error {
	return CheckEchoSeed(conn, int64(n), extortest.DefaultSeed)
}

// CheckEchoSeed is CheckEcho with a chosen length type and stream seed.
func CheckEchoSeed(conn net.Conn, n int64, seed uint64) error {
	type result struct {
		n   int64
		err error
	}
	wdone := make(chan result, 1)
	go func() {
		w, err := extortest.NewStream(seed).WriteN(conn, n)
		if err != nil {
			conn.SetReadDeadline(time.Unix(1, 0)) // stop the reader too
		}
		wdone <- result{w, err}
	}()

	check := extortest.NewChecker(seed)
	buf := make([]byte, min(n, 256<<10))
	var rerr error
	for check.Offset() < n {
		chunk := buf[:min(int64(len(buf)), n-check.Offset())]
		m, err := io.ReadAtLeast(conn, chunk, 1)
		if m > 0 {
			if _, cerr := check.Write(chunk[:m]); cerr != nil {
				rerr = cerr
				break
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			rerr = fmt.Errorf("echo: reading at offset %d of %d: %w", check.Offset(), n, err)
			break
		}
	}
	if rerr != nil {
		conn.SetWriteDeadline(time.Unix(1, 0)) // the writer may be blocked on a peer that stopped reading
	}
	w := <-wdone
	if w.err != nil && (rerr == nil || isDeadline(rerr)) {
		return fmt.Errorf("echo: writing at offset %d of %d: %w", w.n, n, w.err)
	}
	return rerr
}

func isDeadline(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
