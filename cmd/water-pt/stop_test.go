package main

import (
	"context"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"
)

// fakeServe stands for a client or server with one open connection whose
// module, once asked to stop, would never finish stopping. It records what
// serveUntilStopped did to its contexts.
type fakeServe struct {
	serving   chan struct{} // closed once serve runs (the signal handlers are in)
	closing   chan struct{} // closed when the connection is asked to stop
	release   chan struct{} // closed by the test: let everything end
	returned  chan struct{} // closed when serve has returned
	acceptCtx context.Context
	connCtx   context.Context
}

func newFakeServe(t *testing.T) *fakeServe {
	f := &fakeServe{serving: make(chan struct{}), closing: make(chan struct{}),
		release: make(chan struct{}), returned: make(chan struct{})}
	t.Cleanup(func() {
		close(f.release)
		<-f.returned
	})
	return f
}

func (f *fakeServe) serve(acceptCtx, connCtx context.Context) {
	defer close(f.returned)
	f.acceptCtx, f.connCtx = acceptCtx, connCtx
	// Like Session's stopAfter: a Close that blocks until the test ends.
	stop := context.AfterFunc(connCtx, func() {
		close(f.closing)
		<-f.release
	})
	defer stop()
	close(f.serving)
	<-f.release // like Serve waiting for its connections
}

// runStopped runs serveUntilStopped on stdin in a goroutine, calls stopIt
// once serving, and returns serveUntilStopped's exit code.
func runStopped(t *testing.T, f *fakeServe, stdin io.Reader, stopIt func()) int {
	t.Helper()
	code := make(chan int, 1)
	go func() {
		code <- serveUntilStopped(context.Background(), slog.New(slog.DiscardHandler), stdin, f.serve)
	}()
	<-f.serving
	stopIt()
	select {
	case c := <-code:
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("serveUntilStopped did not return 20 s after being told to stop")
		return -1
	}
}

// A hard stop (what tor does: stdin closed; or a second signal) returns
// without asking any connection to stop, so a module that is slow to stop
// cannot hold the exit up; the listeners are closed.
func TestHardStopLeavesConnections(t *testing.T) {
	t.Setenv("TOR_PT_EXIT_ON_STDIN_CLOSE", "1")
	for _, tc := range []struct {
		name string
		stop func(f *fakeServe, stdin io.Closer)
	}{
		{"stdin closed", func(_ *fakeServe, stdin io.Closer) { stdin.Close() }},
		{"SIGTERM with stdin watched", func(*fakeServe, io.Closer) { signalSelf(t, syscall.SIGTERM) }},
		{"second SIGINT", func(f *fakeServe, _ io.Closer) {
			signalSelf(t, syscall.SIGINT)
			<-f.acceptCtx.Done() // the first one stops accepting
			signalSelf(t, syscall.SIGINT)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServe(t)
			r, w := io.Pipe()
			defer w.Close()
			if code := runStopped(t, f, r, func() { tc.stop(f, w) }); code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			if f.acceptCtx.Err() == nil {
				t.Error("still accepting after a hard stop")
			}
			if f.connCtx.Err() != nil {
				t.Error("a hard stop asked the open connections to stop: a module slow to stop would hold the exit up")
			}
		})
	}
}

// SIGTERM from someone other than tor (stdin not watched) asks the open
// connections' modules to stop on the way out.
func TestSIGTERMStopsConnections(t *testing.T) {
	t.Setenv("TOR_PT_EXIT_ON_STDIN_CLOSE", "")
	f := newFakeServe(t)
	r, w := io.Pipe()
	defer w.Close()
	if code := runStopped(t, f, r, func() { signalSelf(t, syscall.SIGTERM) }); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	select {
	case <-f.closing:
	case <-time.After(20 * time.Second):
		t.Fatal("SIGTERM without TOR_PT_EXIT_ON_STDIN_CLOSE did not ask the open connection to stop")
	}
}

func signalSelf(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
		t.Fatal(err)
	}
}
