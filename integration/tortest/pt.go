package tortest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// PT is a managed-proxy process started as tor starts one: with exactly the
// environment given, stdin a pipe the harness holds open (closing it is how
// tor asks the PT to exit), stdout read line by line into Lines, and stderr
// captured separately (a PT in managed mode should write nothing there).
//
// Its methods are safe for concurrent use. t.Cleanup kills the process if it
// is still running, waits for it and, if the test failed, logs its stdout
// and stderr.
type PT struct {
	t       testing.TB
	cmd     *exec.Cmd
	env     []string
	started time.Time
	stdin   *os.File // write end of the PT's stdin
	stdout  *os.File // read end of the PT's stdout
	stderrR *os.File // read end of the PT's stderr

	readers sync.WaitGroup // routineStdout and routineStderr
	waiter  sync.WaitGroup // routineWait
	exited  chan struct{}  // closed by routineWait once the process is reaped
	readEOF chan struct{}  // closed once both output pipes reached EOF

	// mu guards everything below.
	mu         sync.Mutex
	lines      []Line
	stdoutDone bool          // stdout reached EOF (or was closed)
	changed    chan struct{} // closed and replaced on every new line and at EOF
	stderr     strings.Builder
	mark       time.Time
	exitAt     time.Time
	state      *os.ProcessState
	waitErr    error
	stdinOpen  bool
}

// Start runs binary with args and exactly env (nil means an empty
// environment, never the test's: build env with ClientEnv or ServerEnv). The
// working directory is a fresh t.TempDir(). A failure to start is fatal.
//
// One exception to "exactly env": when this test binary is built with -race
// (so Build builds the PT with -race too), GORACE=atexit_sleep_ms=0 is added
// unless env sets GORACE, because the race runtime otherwise sleeps 1 s
// before exiting. Data races found in the PT are then reported on its stderr.
func Start(t testing.TB, binary string, env []string, args ...string) *PT {
	t.Helper()
	env = append([]string{}, env...) // never nil: nil would mean the test's environment
	if _, ok := LookupEnv(env, "GORACE"); raceEnabled && !ok {
		// Build made a -race binary, whose runtime sleeps 1 s at exit by
		// default: that would hide how fast the PT exits.
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	if strings.ContainsRune(binary, filepath.Separator) {
		if abs, err := filepath.Abs(binary); err == nil {
			binary = abs
		}
	}
	p := &PT{
		t:         t,
		env:       env,
		exited:    make(chan struct{}),
		readEOF:   make(chan struct{}),
		changed:   make(chan struct{}),
		stdinOpen: true,
	}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = env
	p.cmd.Dir = t.TempDir()

	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = stdinR, stdoutW, stderrW
	p.stdin, p.stdout, p.stderrR = stdinW, stdoutR, stderrR

	err = p.cmd.Start()
	p.started = time.Now()
	p.mark = p.started
	// The child has its copies; ours would keep the pipes from reaching EOF.
	stdinR.Close()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdinW.Close()
		stdoutR.Close()
		stderrR.Close()
		t.Fatalf("tortest: starting %s: %v", binary, err)
	}

	p.readers.Add(2)
	go p.routineStdout()
	go p.routineStderr()
	go func() {
		p.readers.Wait()
		close(p.readEOF)
	}() // owned through readers: it ends right after them
	p.waiter.Add(1)
	go p.routineWait()
	t.Cleanup(p.cleanup)
	return p
}

func (p *PT) routineStdout() {
	defer p.readers.Done()
	r := bufio.NewReaderSize(p.stdout, 64<<10)
	for {
		text, err := r.ReadString('\n')
		if text != "" {
			l := ParseLine(strings.TrimSuffix(text, "\n"))
			l.At = time.Now()
			p.mu.Lock()
			l.Index = len(p.lines)
			p.lines = append(p.lines, l)
			p.notifyLocked()
			p.mu.Unlock()
		}
		if err != nil {
			p.mu.Lock()
			p.stdoutDone = true
			p.notifyLocked()
			p.mu.Unlock()
			return
		}
	}
}

func (p *PT) routineStderr() {
	defer p.readers.Done()
	buf := make([]byte, 4096)
	for {
		n, err := p.stderrR.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.stderr.Write(buf[:n])
			p.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

func (p *PT) routineWait() {
	defer p.waiter.Done()
	err := p.cmd.Wait()
	now := time.Now()
	p.mu.Lock()
	p.exitAt = now
	p.state = p.cmd.ProcessState
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		p.waitErr = err
	}
	p.notifyLocked()
	p.mu.Unlock()
	close(p.exited)
}

func (p *PT) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// cleanup kills a running process and waits for every goroutine.
func (p *PT) cleanup() {
	p.Kill()
	p.closeStdin()
	select {
	case <-p.readEOF:
	case <-time.After(5 * time.Second):
		// A grandchild holds the pipes open: close our ends to stop the readers.
	}
	p.stdout.Close()
	p.stderrR.Close()
	p.readers.Wait()
	p.waiter.Wait()
	<-p.readEOF
	if p.t.Failed() {
		p.t.Logf("tortest: %s stdout:\n%s", filepath.Base(p.cmd.Path), p.stdoutText())
		p.t.Logf("tortest: %s stderr:\n%s", filepath.Base(p.cmd.Path), p.Stderr())
	}
}

func (p *PT) stdoutText() string {
	var b strings.Builder
	for _, l := range p.Lines() {
		fmt.Fprintf(&b, "  %3d +%v %s\n", l.Index, l.At.Sub(p.started).Round(time.Microsecond), l.Text)
	}
	return b.String()
}

// Pid returns the process id.
func (p *PT) Pid() int { return p.cmd.Process.Pid }

// Env returns the environment the PT was started with.
func (p *PT) Env() []string { return append([]string(nil), p.env...) }

// Lines returns a copy of every stdout line so far.
func (p *PT) Lines() []Line {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Line(nil), p.lines...)
}

// Stderr returns everything the PT wrote to stderr so far.
func (p *PT) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// WaitLine waits for the first stdout line (since the start) that begins
// with prefix and returns it. Use "CMETHOD " (with the space) to skip
// CMETHOD-ERROR and CMETHODS DONE. It fails when ctx ends or stdout closes
// without such a line.
func (p *PT) WaitLine(ctx context.Context, prefix string) (Line, error) {
	return p.WaitLineFrom(ctx, 0, prefix)
}

// WaitLineFrom is WaitLine among the lines whose Index is at least from
// (pass the Index of a previous match plus one to wait for the next one).
func (p *PT) WaitLineFrom(ctx context.Context, from int, prefix string) (Line, error) {
	var found Line
	err := p.waitLines(ctx, func(lines []Line) bool {
		for _, l := range lines[min(from, len(lines)):] {
			if strings.HasPrefix(l.Text, prefix) {
				found = l
				return true
			}
		}
		return false
	})
	if err != nil {
		return Line{}, fmt.Errorf("tortest: waiting for a line starting with %q: %w", prefix, err)
	}
	return found, nil
}

// errStdoutClosed is returned by the waits when stdout reached EOF first.
var errStdoutClosed = errors.New("PT closed stdout (exited?)")

// waitLines calls match with all lines after every change until it returns
// true, ctx ends or stdout is closed.
func (p *PT) waitLines(ctx context.Context, match func([]Line) bool) error {
	for {
		p.mu.Lock()
		lines, done, changed := p.lines, p.stdoutDone, p.changed
		p.mu.Unlock()
		if match(lines) { // lines is append-only: no copy needed
			return nil
		}
		if done {
			return errStdoutClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitDone waits for CMETHODS DONE or SMETHODS DONE and returns the CMETHOD
// or SMETHOD lines before it, parsed. It checks the configuration protocol as
// tor does and fails on what would make tor give up on the PT: a missing or
// wrong VERSION first, ENV-ERROR, VERSION-ERROR, a malformed method line, a
// method line of the wrong side, and (when TOR_PT_PROXY is set) a CMETHOD
// before PROXY DONE. A CMETHOD-ERROR or SMETHOD-ERROR is not an error (tor
// logs it and uses the other transports): find those in Lines. LOG and STATUS
// lines may come anywhere; unknown lines are ignored.
func (p *PT) WaitDone(ctx context.Context) ([]Method, error) {
	var (
		methods []Method
		perr    error
	)
	_, wantProxy := LookupEnv(p.env, "TOR_PT_PROXY")
	err := p.waitLines(ctx, func(lines []Line) bool {
		methods, perr = nil, nil
		version, proxyDone := false, false
		for _, l := range lines {
			fail := func(format string, a ...any) bool {
				perr = fmt.Errorf("line %d %q: %s", l.Index, l.Text, fmt.Sprintf(format, a...))
				return true
			}
			switch l.Kind {
			case KindLog, KindStatus, KindUnknown:
				continue
			case KindEnvError, KindVersionError:
				return fail("the PT rejected its environment")
			case KindVersion:
				if version {
					return fail("second VERSION line")
				}
				if len(l.Fields) != 1 || l.Fields[0] != "1" {
					return fail("want VERSION 1")
				}
				version = true
				continue
			}
			if !version {
				return fail("%v before VERSION", l.Kind)
			}
			switch l.Kind {
			case KindProxyDone, KindProxyError:
				if !wantProxy {
					return fail("%v without TOR_PT_PROXY", l.Kind)
				}
				proxyDone = true
			case KindCMethod, KindSMethod:
				if wantProxy && !proxyDone {
					return fail("method line before PROXY DONE or PROXY-ERROR")
				}
				if err := p.checkSide(l.Kind == KindSMethod); err != nil {
					return fail("%v", err)
				}
				m, err := ParseMethod(l)
				if err != nil {
					perr = err
					return true
				}
				methods = append(methods, m)
			case KindCMethodError, KindSMethodError:
				if err := p.checkSide(l.Kind == KindSMethodError); err != nil {
					return fail("%v", err)
				}
			case KindCMethodsDone, KindSMethodsDone:
				if err := p.checkSide(l.Kind == KindSMethodsDone); err != nil {
					return fail("%v", err)
				}
				if wantProxy && !proxyDone {
					return fail("DONE before PROXY DONE or PROXY-ERROR")
				}
				return true
			}
		}
		return false
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return methods, fmt.Errorf("tortest: waiting for METHODS DONE: %w", err)
	}
	return methods, nil
}

// checkSide reports an error when a client line comes from a server PT or the
// reverse.
func (p *PT) checkSide(serverLine bool) error {
	_, client := LookupEnv(p.env, "TOR_PT_CLIENT_TRANSPORTS")
	if client == serverLine {
		return fmt.Errorf("server line from a client PT, or the reverse (TOR_PT_CLIENT_TRANSPORTS set: %v)", client)
	}
	return nil
}

// Mark records now as the instant Wait measures exit time from, and returns
// it. CloseStdin and Signal mark too.
func (p *PT) Mark() time.Time {
	now := time.Now()
	p.mu.Lock()
	p.mark = now
	p.mu.Unlock()
	return now
}

// CloseStdin closes the PT's stdin, as tor does to ask it to exit, marks the
// instant (see Wait) and returns it. Closing twice is harmless.
func (p *PT) CloseStdin() time.Time {
	now := p.Mark()
	p.closeStdin()
	return now
}

func (p *PT) closeStdin() {
	p.mu.Lock()
	open := p.stdinOpen
	p.stdinOpen = false
	p.mu.Unlock()
	if open {
		p.stdin.Close()
	}
}

// Signal marks the instant (see Wait) and sends sig to the PT.
func (p *PT) Signal(sig os.Signal) (time.Time, error) {
	now := p.Mark()
	select {
	case <-p.exited:
		return now, os.ErrProcessDone
	default:
	}
	return now, p.cmd.Process.Signal(sig)
}

// Wait waits up to timeout for the PT to exit. It returns the exit code (-1
// if a signal killed it), the time from the last mark (CloseStdin, Signal,
// Mark, or else the start) to the exit, and an error if the PT is still
// running at the timeout (it is not killed then). After the exit it also
// waits, within the same timeout, for stdout and stderr to be read to their
// end, so Lines and Stderr are complete.
func (p *PT) Wait(timeout time.Duration) (exitCode int, elapsed time.Duration, err error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		return -1, 0, fmt.Errorf("tortest: PT still running %v after the wait began", timeout)
	}
	select {
	case <-p.readEOF:
	case <-timer.C:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr != nil {
		return -1, p.exitAt.Sub(p.mark), p.waitErr
	}
	return p.state.ExitCode(), p.exitAt.Sub(p.mark), nil
}

// Exited reports whether the process has exited.
func (p *PT) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// ProcessState returns the exit state, or nil while the PT runs.
func (p *PT) ProcessState() *os.ProcessState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// ExitTime returns when the process was seen to exit, or the zero time while
// it runs.
func (p *PT) ExitTime() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitAt
}

// Kill kills the PT (SIGKILL) if it is running and waits for it to be reaped.
func (p *PT) Kill() {
	if !p.Exited() {
		p.cmd.Process.Kill()
	}
	<-p.exited
}
