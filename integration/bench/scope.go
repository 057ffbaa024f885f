package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// scope is a testing.TB for running the test doubles of integration/tortest
// and ptserver/extortest outside "go test": tortest.StartPair and friends
// take a testing.TB for their temporary directories, cleanups and fatal
// errors. One scope owns one PT pair: Close runs the cleanups (which kill the
// processes and stop the fake ExtORPort) and removes the directories.
//
// Fatal and FailNow panic with a *fatalError that catch turns back into an
// error; they must be called from the goroutine that runs the guarded code,
// as testing.TB requires of its own Fatal.
type scope struct {
	// testing.TB is nil: embedding it only supplies the unexported method
	// that keeps others from implementing the interface. Every exported
	// method is defined below.
	testing.TB

	name   string
	log    io.Writer // Log and Logf, and what the PTs printed if the scope failed
	root   string    // parent of every TempDir
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards everything below.
	mu       sync.Mutex
	cleanups []func()
	failed   bool
	ntemp    int
	closed   bool
}

// fatalError is what Fatal panics with and catch recovers.
type fatalError struct{ msg string }

func (e *fatalError) Error() string { return e.msg }

func newScope(name string, log io.Writer) (*scope, error) {
	root, err := os.MkdirTemp("", "water-pt-bench-"+name+"-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &scope{name: name, log: log, root: root, ctx: ctx, cancel: cancel}, nil
}

// catch recovers a Fatal of s into *err. Use it as "defer s.catch(&err)".
func (s *scope) catch(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(*fatalError)
		if !ok {
			panic(r)
		}
		*err = f
	}
}

// Close runs the cleanups, last registered first, and removes the temporary
// directories. It is idempotent.
func (s *scope) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	for {
		s.mu.Lock()
		n := len(s.cleanups)
		if n == 0 {
			s.mu.Unlock()
			break
		}
		f := s.cleanups[n-1]
		s.cleanups = s.cleanups[:n-1]
		s.mu.Unlock()
		f()
	}
	os.RemoveAll(s.root)
}

func (s *scope) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *scope) Fail() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = true
}

func (s *scope) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *scope) FailNow() { s.fatal("FailNow") }

func (s *scope) fatal(msg string) {
	s.Fail()
	panic(&fatalError{msg: msg})
}

func (s *scope) Error(args ...any) { s.Log(args...); s.Fail() }
func (s *scope) Errorf(format string, args ...any) {
	s.Logf(format, args...)
	s.Fail()
}
func (s *scope) Fatal(args ...any) { s.fatal(fmt.Sprint(args...)) }
func (s *scope) Fatalf(format string, args ...any) {
	s.fatal(fmt.Sprintf(format, args...))
}
func (s *scope) Skip(args ...any) { s.fatal("skipped: " + fmt.Sprint(args...)) }
func (s *scope) Skipf(format string, args ...any) {
	s.fatal("skipped: " + fmt.Sprintf(format, args...))
}
func (s *scope) SkipNow()                        { s.fatal("skipped") }
func (s *scope) Skipped() bool                   { return false }
func (s *scope) Helper()                         {}
func (s *scope) Name() string                    { return s.name }
func (s *scope) Context() context.Context        { return s.ctx }
func (s *scope) Output() io.Writer               { return s.log }
func (s *scope) Attr(key, value string)          {}
func (s *scope) Log(args ...any)                 { fmt.Fprintf(s.log, "[%s] %s\n", s.name, fmt.Sprint(args...)) }
func (s *scope) Logf(format string, args ...any) { s.Log(fmt.Sprintf(format, args...)) }
func (s *scope) Setenv(key, value string)        { s.fatal("scope: Setenv is not supported") }
func (s *scope) Chdir(dir string)                { s.fatal("scope: Chdir is not supported") }
func (s *scope) ArtifactDir() string             { return s.TempDir() }

// TempDir returns a new directory under the scope's root.
func (s *scope) TempDir() string {
	s.mu.Lock()
	s.ntemp++
	dir := filepath.Join(s.root, fmt.Sprintf("%03d", s.ntemp))
	s.mu.Unlock()
	if err := os.Mkdir(dir, 0o700); err != nil {
		s.fatal(fmt.Sprintf("scope: TempDir: %v", err))
	}
	return dir
}
