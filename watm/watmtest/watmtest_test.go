package watmtest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm/watmtest"
)

// recorder is a testing.TB whose failures and cleanups the test sees.
type recorder struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper()                   {}
func (r *recorder) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }

// end runs the cleanups, last registered first, as the testing package does.
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestLeakCheckReportsLeakedGoroutine(t *testing.T) {
	r := &recorder{TB: t}
	watmtest.LeakCheck(r)
	release := make(chan struct{})
	done := make(chan struct{})
	go func() { <-release; close(done) }()
	r.end()
	close(release)
	<-done
	if len(r.errs) != 1 || !strings.HasPrefix(r.errs[0], "leak: goroutines ") {
		t.Fatalf("LeakCheck reported %q, want one leak report", r.errs)
	}
}

func TestLeakCheckReportsLeakedFD(t *testing.T) {
	r := &recorder{TB: t}
	watmtest.LeakCheck(r)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.end()
	ln.Close()
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "open fds ") {
		t.Fatalf("LeakCheck reported %q, want one leak report", r.errs)
	}
}

// TestServeEndsWithTheTest: a connection the client leaves open is closed
// by the server when the test ends, and no goroutine or descriptor stays.
func TestServeEndsWithTheTest(t *testing.T) {
	watmtest.LeakCheck(t)
	r := &recorder{TB: t}
	srv := watmtest.Echo(r)
	c, err := srv.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v; want \"ping\"", got, err)
	}
	if n := srv.Accepted(); n != 1 {
		t.Errorf("Accepted() = %d, want 1", n)
	}
	r.end()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(got); err != io.EOF {
		t.Errorf("after the test ended: read %d, %v; want EOF", n, err)
	}
	if len(r.errs) != 0 {
		t.Errorf("failures: %q", r.errs)
	}
}

// TestSendAndCheckFindsDifference: a server that changes one byte of the
// echo is caught, at the right index.
func TestSendAndCheckFindsDifference(t *testing.T) {
	srv := watmtest.Serve(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		b[7] ^= 1
		c.Write(b)
	})
	c, err := srv.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = watmtest.SendAndCheck(c, c, watmtest.RandomBytes(100, 1))
	if want := "received 100 bytes, want 100; first difference at 7"; err == nil || err.Error() != want {
		t.Errorf("SendAndCheck: %v, want %q", err, want)
	}
}

func TestExchange(t *testing.T) {
	a, b := watmtest.Pair(t)
	if err := watmtest.Exchange(a, b, watmtest.RandomBytes(1<<20, 1), watmtest.RandomBytes(1<<20+3, 2)); err != nil {
		t.Fatal(err)
	}
}

func TestRandomBytesIsSeeded(t *testing.T) {
	if !bytes.Equal(watmtest.RandomBytes(64, 9), watmtest.RandomBytes(64, 9)) {
		t.Error("the same seed gave different bytes")
	}
	if bytes.Equal(watmtest.RandomBytes(64, 9), watmtest.RandomBytes(64, 10)) {
		t.Error("different seeds gave the same bytes")
	}
}

func TestClosedPortRefuses(t *testing.T) {
	_, err := net.Dial("tcp", watmtest.ClosedPort(t))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial: %v, want ECONNREFUSED", err)
	}
}
