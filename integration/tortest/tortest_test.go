package tortest_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/ptserver/extortest"
)

// fakeSecret is fakept's Secret.
const fakeSecret = `s,e=c;r\et:x`

// fakePT builds testdata/fakept once for this test binary, as tortest.Build
// does for cmd/water-pt; TestMain removes it.
var fakePT = &tortest.Builder{Package: "github.com/water-pt/water-pt/integration/tortest/testdata/fakept"}

func TestMain(m *testing.M) {
	code := m.Run()
	fakePT.Close()
	os.Exit(code)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestBuilder(t *testing.T) {
	p1 := fakePT.Path(t)
	p2 := fakePT.Path(t)
	if p1 != p2 {
		t.Errorf("two builds: %q, %q", p1, p2)
	}
	if fi, err := os.Stat(p1); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("binary %q: %v %v", p1, fi, err)
	}
	b := &tortest.Builder{Package: "github.com/water-pt/water-pt/no/such/package"}
	if _, err := b.Build(); err == nil {
		t.Error("building a missing package succeeded")
	}
	b.Close()
}

func TestClientEnv(t *testing.T) {
	t.Setenv("TORTEST_NOISE", "must not leak")
	got := tortest.ClientEnv("/state", []string{"water", "obfs4"}, "socks5://127.0.0.1:9")
	want := []string{
		"TOR_PT_STATE_LOCATION=/state",
		"TOR_PT_MANAGED_TRANSPORT_VER=1",
		"TOR_PT_EXIT_ON_STDIN_CLOSE=1",
		"TOR_PT_CLIENT_TRANSPORTS=water,obfs4",
		"TOR_PT_PROXY=socks5://127.0.0.1:9",
	}
	if !reflect.DeepEqual(withoutBase(got), want) {
		t.Errorf("ClientEnv:\n got %q\nwant %q", withoutBase(got), want)
	}
	if _, ok := tortest.LookupEnv(tortest.ClientEnv("/s", []string{"a"}, ""), "TOR_PT_PROXY"); ok {
		t.Error("TOR_PT_PROXY set without a proxy")
	}
}

func TestServerEnv(t *testing.T) {
	opts := tortest.ServerTransportOptions("water", []tortest.KV{{"key", `a:b;c\d=e`}, {"mode", "1"}})
	if want := `water:key=a\:b\;c\\d=e;water:mode=1`; opts != want {
		t.Errorf("ServerTransportOptions = %q, want %q", opts, want)
	}
	got := tortest.ServerEnv("/state", []string{"water", "obfs4"},
		map[string]string{"water": "127.0.0.1:4000", "other": "1.1.1.1:1"},
		opts, "127.0.0.1:9001", "127.0.0.1:9002", "/cookie")
	want := []string{
		"TOR_PT_STATE_LOCATION=/state",
		"TOR_PT_MANAGED_TRANSPORT_VER=1",
		"TOR_PT_EXIT_ON_STDIN_CLOSE=1",
		"TOR_PT_SERVER_TRANSPORTS=water,obfs4",
		"TOR_PT_ORPORT=127.0.0.1:9001",
		"TOR_PT_SERVER_BINDADDR=water-127.0.0.1:4000,obfs4-127.0.0.1:0",
		"TOR_PT_SERVER_TRANSPORT_OPTIONS=" + opts,
		"TOR_PT_EXTENDED_SERVER_PORT=127.0.0.1:9002",
		"TOR_PT_AUTH_COOKIE_FILE=/cookie",
	}
	if !reflect.DeepEqual(withoutBase(got), want) {
		t.Errorf("ServerEnv:\n got %q\nwant %q", withoutBase(got), want)
	}
	// Without ExtORPort tor still sets the variable, empty.
	got = tortest.ServerEnv("/s", []string{"water"}, nil, "", "127.0.0.1:1", "", "")
	if v, ok := tortest.LookupEnv(got, "TOR_PT_EXTENDED_SERVER_PORT"); !ok || v != "" {
		t.Errorf("TOR_PT_EXTENDED_SERVER_PORT = %q, %v; want set and empty", v, ok)
	}
	for _, k := range []string{"TOR_PT_AUTH_COOKIE_FILE", "TOR_PT_SERVER_TRANSPORT_OPTIONS"} {
		if _, ok := tortest.LookupEnv(got, k); ok {
			t.Errorf("%s set", k)
		}
	}
	// goptlib understands what we built.
	parsed := serverSetupEnv(t, tortest.ServerEnv(t.TempDir(), []string{"water"}, nil, opts, "", "127.0.0.1:9", "/nonexistent"))
	if v, _ := parsed.Get("key"); v != `a:b;c\d=e` {
		t.Errorf("goptlib read option key=%q", v)
	}
}

// serverSetupEnv runs fakept in server mode with env and returns the options
// its SMETHOD line echoes.
func serverSetupEnv(t *testing.T, env []string) pt.Args {
	p := tortest.Start(t, fakePT.Path(t), env)
	ms, err := p.WaitDone(ctxFor(t, 10*time.Second))
	if err != nil || len(ms) != 1 {
		t.Fatalf("WaitDone: %v, %d methods", err, len(ms))
	}
	args := pt.Args{}
	for _, kv := range ms[0].Args {
		args.Add(kv.Key, kv.Value)
	}
	return args
}

func withoutBase(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "PATH=") && !strings.HasPrefix(e, "HOME=") {
			out = append(out, e)
		}
	}
	return out
}

// TestEnvReachesPT checks that the PT sees exactly the environment given:
// nothing inherited from the test process.
func TestEnvReachesPT(t *testing.T) {
	t.Setenv("TORTEST_NOISE", "must not leak")
	envFile := filepath.Join(t.TempDir(), "env")
	env := append(tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"}, ""), "EXTRA=1")
	p := tortest.Start(t, fakePT.Path(t), env, "-env-file", envFile)
	if _, err := p.WaitDone(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	got := withoutKey(strings.Split(strings.TrimSpace(string(b)), "\n"), "GORACE") // see Start
	want := append([]string(nil), env...)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PT environment:\n got %q\nwant %q", got, want)
	}
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		text   string
		kind   tortest.Kind
		fields []string
		kvs    []tortest.KV
	}{
		{"VERSION 1", tortest.KindVersion, []string{"1"}, nil},
		{"VERSION-ERROR no-version", tortest.KindVersionError, []string{"no-version"}, nil},
		{"ENV-ERROR no TOR_PT_STATE_LOCATION", tortest.KindEnvError, []string{"no", "TOR_PT_STATE_LOCATION"}, nil},
		{"PROXY DONE", tortest.KindProxyDone, []string{}, nil},
		{"PROXY-ERROR bad", tortest.KindProxyError, []string{"bad"}, nil},
		{"CMETHOD water socks5 127.0.0.1:1234", tortest.KindCMethod, []string{"water", "socks5", "127.0.0.1:1234"}, nil},
		{"CMETHOD-ERROR water oops", tortest.KindCMethodError, []string{"water", "oops"}, nil},
		{"CMETHODS DONE", tortest.KindCMethodsDone, []string{}, nil},
		{"SMETHOD water 127.0.0.1:5 ARGS:a=b", tortest.KindSMethod, []string{"water", "127.0.0.1:5", "ARGS:a=b"}, nil},
		{"SMETHOD-ERROR water oops", tortest.KindSMethodError, []string{"water", "oops"}, nil},
		{"SMETHODS DONE", tortest.KindSMethodsDone, []string{}, nil},
		{`LOG SEVERITY=notice MESSAGE="a \"b\" \\ \t\303\251 c=d"`, tortest.KindLog, nil,
			[]tortest.KV{{"SEVERITY", "notice"}, {"MESSAGE", "a \"b\" \\ \té c=d"}}},
		{`STATUS TRANSPORT=water ADDRESS=1.2.3.4:5 CONNECT=Success`, tortest.KindStatus, nil,
			[]tortest.KV{{"TRANSPORT", "water"}, {"ADDRESS", "1.2.3.4:5"}, {"CONNECT", "Success"}}},
		{"CMETHODS NOTDONE", tortest.KindUnknown, nil, nil},
		{"hello world", tortest.KindUnknown, nil, nil},
	} {
		l := tortest.ParseLine(tc.text)
		if l.Kind != tc.kind || l.Err != nil {
			t.Errorf("%q: kind %v err %v, want %v", tc.text, l.Kind, l.Err, tc.kind)
		}
		if tc.fields != nil && !reflect.DeepEqual(l.Fields, tc.fields) {
			t.Errorf("%q: fields %q, want %q", tc.text, l.Fields, tc.fields)
		}
		if tc.kvs != nil && !reflect.DeepEqual(l.KVs, tc.kvs) {
			t.Errorf("%q: kvs %q, want %q", tc.text, l.KVs, tc.kvs)
		}
	}
	if l := tortest.ParseLine(`LOG SEVERITY=notice MESSAGE="unterminated`); l.Err == nil {
		t.Error("unterminated quoted string accepted")
	}
}

func TestParseMethod(t *testing.T) {
	m, err := tortest.ParseMethod(tortest.ParseLine(`SMETHOD water 127.0.0.1:5 ARGS:cert=a\,b\=c\\d,iat-mode=0,empty= FOO:bar`))
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := []tortest.KV{{"cert", `a,b=c\d`}, {"iat-mode", "0"}, {"empty", ""}}
	if m.Name != "water" || m.Addr != "127.0.0.1:5" || !reflect.DeepEqual(m.Args, wantArgs) || !reflect.DeepEqual(m.Options, []string{"FOO:bar"}) {
		t.Errorf("parsed %+v", m)
	}
	// An '=' inside a value needs no escape for the split.
	if args, err := tortest.ParseSMethodArgs(`k=a=b`); err != nil || !reflect.DeepEqual(args, []tortest.KV{{"k", "a=b"}}) {
		t.Errorf("ParseSMethodArgs(k=a=b) = %q, %v", args, err)
	}
	m, err = tortest.ParseMethod(tortest.ParseLine("CMETHOD water socks5 [::1]:1080"))
	if err != nil || m.Proto != "socks5" || m.Addr != "[::1]:1080" {
		t.Errorf("CMETHOD: %+v %v", m, err)
	}
	for _, bad := range []string{
		"CMETHOD water socks5",
		"CMETHOD water socks6 127.0.0.1:1",
		"CMETHOD wa-ter socks5 127.0.0.1:1",
		"CMETHOD water socks5 localhost:1",
		"SMETHOD water 127.0.0.1:0",
		"SMETHOD water 127.0.0.1:1 ARGS:novalue",
		`SMETHOD water 127.0.0.1:1 ARGS:k=v\`,
		"SMETHOD water 127.0.0.1:1 ARGS:=v",
		"VERSION 1",
	} {
		if _, err := tortest.ParseMethod(tortest.ParseLine(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestGoptlibSmethodArgs checks ParseSMethodArgs against goptlib's encoder.
func TestGoptlibSmethodArgs(t *testing.T) {
	var buf bytes.Buffer
	saved := pt.Stdout
	pt.Stdout = &buf
	defer func() { pt.Stdout = saved }()
	args := pt.Args{}
	args.Add("cert", `x,y=z\w`)
	args.Add("k=ey", "v")
	args.Add("n", "")
	pt.SmethodArgs("water", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7}, args)
	m, err := tortest.ParseMethod(tortest.ParseLine(strings.TrimSpace(buf.String())))
	if err != nil {
		t.Fatal(err)
	}
	got := pt.Args{}
	for _, kv := range m.Args {
		got.Add(kv.Key, kv.Value)
	}
	if !reflect.DeepEqual(got, args) {
		t.Errorf("round trip of %q: got %q from %q", args, got, buf.String())
	}
}

func TestFakeClientLifecycle(t *testing.T) {
	p := tortest.Start(t, fakePT.Path(t), tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water", "other"}, ""))
	ctx := ctxFor(t, 10*time.Second)
	ms, err := p.WaitDone(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "water" || ms[1].Name != "other" || ms[0].Proto != "socks5" {
		t.Fatalf("methods %+v", ms)
	}
	l, err := p.WaitLine(ctx, "LOG ")
	if err != nil {
		t.Fatal(err)
	}
	if msg, _ := l.Get("MESSAGE"); msg != "fakept ready: \"quoted\", back\\slash, tab\t, é" {
		t.Errorf("LOG MESSAGE %q", msg)
	}
	if l, err := p.WaitLine(ctx, "STATUS "); err != nil {
		t.Error(err)
	} else if v, _ := l.Get("IMPLEMENTATION"); v != "fakept" {
		t.Errorf("STATUS %q", l.Text)
	}
	if lines := p.Lines(); lines[0].Text != "VERSION 1" || lines[0].Index != 0 {
		t.Errorf("first line %+v", lines[0])
	}

	p.CloseStdin()
	code, elapsed, err := p.Wait(5 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("Wait: code %d err %v", code, err)
	}
	if elapsed <= 0 || elapsed > time.Second {
		t.Errorf("exit %v after stdin close, want under 1 s", elapsed)
	}
	if l, err := p.WaitLine(ctx, `LOG SEVERITY=info MESSAGE="fakept exiting: stdin`); err != nil {
		t.Errorf("exit log line: %v", err)
	} else if l.Index < len(ms)+2 {
		t.Errorf("exit line index %d", l.Index)
	}
	if s := p.Stderr(); s != "" {
		t.Errorf("stderr %q", s)
	}
	// Waiting for a line that will never come ends at EOF, not at the timeout.
	if _, err := p.WaitLine(ctxFor(t, time.Minute), "NEVER"); err == nil {
		t.Error("WaitLine found NEVER")
	}
}

func TestExitTiming(t *testing.T) {
	env := tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"}, "")
	p := tortest.Start(t, fakePT.Path(t), env, "-exit-delay", "300ms", "-exit-code", "3")
	if _, err := p.WaitDone(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	mark := p.CloseStdin()
	code, elapsed, err := p.Wait(5 * time.Second)
	if err != nil || code != 3 {
		t.Fatalf("code %d err %v", code, err)
	}
	if elapsed < 300*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("elapsed %v, want about 300 ms", elapsed)
	}
	if d := p.ExitTime().Sub(mark); d != elapsed {
		t.Errorf("ExitTime - mark = %v, elapsed %v", d, elapsed)
	}
}

func TestIgnoreStdinThenSignal(t *testing.T) {
	env := tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"}, "")
	p := tortest.Start(t, fakePT.Path(t), env, "-ignore-stdin", "-stderr", "oops")
	if _, err := p.WaitDone(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	p.CloseStdin()
	if _, _, err := p.Wait(300 * time.Millisecond); err == nil {
		t.Fatal("PT exited although it ignores stdin")
	}
	if p.Exited() {
		t.Fatal("Exited after a timed-out Wait")
	}
	if _, err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, elapsed, err := p.Wait(5 * time.Second)
	if err != nil || code != 0 || elapsed > time.Second {
		t.Errorf("after SIGTERM: code %d elapsed %v err %v", code, elapsed, err)
	}
	if s := p.Stderr(); s != "oops\n" {
		t.Errorf("stderr %q", s)
	}
}

func TestKill(t *testing.T) {
	env := tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"}, "")
	p := tortest.Start(t, fakePT.Path(t), env, "-ignore-stdin")
	p.Kill()
	code, _, err := p.Wait(time.Second)
	if err != nil || code != -1 {
		t.Errorf("after Kill: code %d err %v", code, err)
	}
	if st := p.ProcessState(); st == nil || st.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("state %v", st)
	}
}

func TestWaitDoneErrors(t *testing.T) {
	bin := fakePT.Path(t)
	ctx := ctxFor(t, 10*time.Second)

	// No TOR_PT_MANAGED_TRANSPORT_VER: goptlib prints ENV-ERROR.
	env := withoutKey(tortest.ClientEnv(filepath.Join(t.TempDir(), "s"), []string{"water"}, ""), "TOR_PT_MANAGED_TRANSPORT_VER")
	p := tortest.Start(t, bin, env)
	if _, err := p.WaitDone(ctx); err == nil || !strings.Contains(err.Error(), "ENV-ERROR") {
		t.Errorf("WaitDone without a version: %v", err)
	}
	if code, _, _ := p.Wait(5 * time.Second); code == 0 {
		t.Error("exit status 0 after ENV-ERROR")
	}

	// Unknown version: VERSION-ERROR.
	env = append(tortest.ClientEnv(filepath.Join(t.TempDir(), "s"), []string{"water"}, ""), "TOR_PT_MANAGED_TRANSPORT_VER=2")
	p = tortest.Start(t, bin, env)
	if _, err := p.WaitDone(ctx); err == nil || !strings.Contains(err.Error(), "VERSION-ERROR") {
		t.Errorf("WaitDone with version 2: %v", err)
	}

	// With TOR_PT_PROXY fakept answers PROXY-ERROR and CMETHOD-ERROR: not fatal.
	p = tortest.Start(t, bin, tortest.ClientEnv(filepath.Join(t.TempDir(), "s"), []string{"water"}, "socks5://127.0.0.1:9"))
	ms, err := p.WaitDone(ctx)
	if err != nil || len(ms) != 0 {
		t.Errorf("WaitDone with a proxy: %v %v", ms, err)
	}
	if _, err := p.WaitLine(ctx, "CMETHOD-ERROR water"); err != nil {
		t.Error(err)
	}
}

func withoutKey(env []string, key string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, key+"=") {
			out = append(out, e)
		}
	}
	return out
}

func TestFakeServer(t *testing.T) {
	or := extortest.Start(t, extortest.Echo())
	opts := tortest.ServerTransportOptions("water", []tortest.KV{{"opt", `x:y;z`}})
	env := tortest.ServerEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"},
		map[string]string{"water": "127.0.0.1:0"}, opts, "", or.Addr(), or.CookiePath())
	p := tortest.Start(t, fakePT.Path(t), env)
	ms, err := p.WaitDone(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := []tortest.KV{{"opt", `x:y;z`}, {"secret", fakeSecret}}
	if len(ms) != 1 || !reflect.DeepEqual(ms[0].Args, want) {
		t.Fatalf("SMETHOD %+v, want args %q", ms, want)
	}
	if !strings.Contains(ms[0].Line.Text, `secret=s\,e\=c;r\\et:x`) {
		t.Errorf("SMETHOD line %q does not escape as goptlib does", ms[0].Line.Text)
	}
}

// TestPairEndToEnd wires fakept both ways, exactly as a water-pt test will.
func TestPairEndToEnd(t *testing.T) {
	pair := tortest.StartPair(t, tortest.PairConfig{Binary: fakePT.Path(t), Transport: "water"})
	ctx := ctxFor(t, 20*time.Second)
	c, err := pair.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tortest.CheckEcho(c, 4<<20+1); err != nil {
		t.Fatal(err)
	}
	if err := tortest.CheckEcho(c, 1000); err != nil { // the connection stays usable
		t.Fatal(err)
	}
	c.Close()
	ss, err := pair.ExtOR.WaitClosed(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !ss[0].AuthOK || ss[0].Transport != "water" || !strings.HasPrefix(ss[0].UserAddr, "127.0.0.1:") {
		t.Errorf("ExtORPort session %+v", ss[0])
	}
	if ss[0].BytesIn != 4<<20+1+1000 {
		t.Errorf("ExtORPort got %d bytes", ss[0].BytesIn)
	}
	if l, err := pair.Client.WaitLine(ctx, `LOG SEVERITY=info MESSAGE="socks args: `); err != nil {
		t.Error(err)
	} else if msg, _ := l.Get("MESSAGE"); msg != "socks args: secret="+fakeSecret {
		t.Errorf("client got %q", msg)
	}
	d, err := pair.Stop(5 * time.Second)
	if err != nil || d > time.Second {
		t.Errorf("Stop: %v after %v", err, d)
	}
	if s := pair.Client.Stderr() + pair.Server.Stderr(); s != "" {
		t.Errorf("stderr %q", s)
	}
}

func TestPairDispatch(t *testing.T) {
	pair := tortest.StartPair(t, tortest.PairConfig{Binary: fakePT.Path(t), Transport: "water", Mode: extortest.Dispatch()})
	ctx := ctxFor(t, 20*time.Second)
	// Down: the ExtORPort sources 8 MiB.
	c, err := pair.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(extortest.Source(8 << 20).WithSeed(3).Header())
	if n, err := tortest.NewChecker(3).ReadFrom(c); n != 8<<20 || err != nil {
		t.Errorf("down: %d bytes, %v", n, err)
	}
	c.Close()
	// Up: the ExtORPort checks 8 MiB.
	c, err = pair.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(extortest.VerifySink().WithSeed(4).Header())
	tortest.NewStream(4).WriteN(c, 8<<20)
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
	c.Close()
	ss, err := pair.ExtOR.WaitClosed(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if ss[1].BytesIn != 8<<20 || ss[1].DataErr != nil {
		t.Errorf("up: %d bytes, %v", ss[1].BytesIn, ss[1].DataErr)
	}
}

func TestDialSOCKSReplyCodes(t *testing.T) {
	p := tortest.Start(t, fakePT.Path(t), tortest.ClientEnv(filepath.Join(t.TempDir(), "s"), []string{"water"}, ""))
	ctx := ctxFor(t, 10*time.Second)
	ms, err := p.WaitDone(ctx)
	if err != nil {
		t.Fatal(err)
	}
	socks := ms[0].Addr
	for _, tc := range []struct {
		args []tortest.KV
		want byte
	}{
		{[]tortest.KV{{"rep", "5"}}, tortest.ReplyConnectionRefused},
		{[]tortest.KV{{"rep", "6"}}, tortest.ReplyTTLExpired},
		{[]tortest.KV{{"secret", "wrong"}}, tortest.ReplyNotAllowed},
		{nil, tortest.ReplyNotAllowed},
	} {
		c, rep, err := tortest.DialSOCKS(ctx, socks, "127.0.0.1:1", tc.args)
		var se *tortest.SOCKSError
		if c != nil || rep != tc.want || !errors.As(err, &se) || se.Reply != tc.want {
			t.Errorf("args %q: conn %v reply 0x%02x err %v; want reply 0x%02x", tc.args, c, rep, err, tc.want)
		}
	}
	// The right secret but nothing listening at the target.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	if _, rep, _ := tortest.DialSOCKS(ctx, socks, dead, []tortest.KV{{"secret", fakeSecret}}); rep != tortest.ReplyConnectionRefused {
		t.Errorf("dead target: reply 0x%02x", rep)
	}
	// Not a SOCKS server at all.
	if _, rep, err := tortest.DialSOCKS(ctx, dead, "127.0.0.1:1", nil); err == nil || rep != tortest.ReplyNone {
		t.Errorf("no server: reply 0x%02x err %v", rep, err)
	}
}

// socksCapture is what a tiny in-test SOCKS5 server saw from one client.
type socksCapture struct {
	greeting   []byte
	user, pass []byte
	request    []byte
}

// captureSOCKS accepts one connection on ln, records the client's handshake
// (choosing username/password if offered), and answers reply.
func captureSOCKS(ln net.Listener, reply byte) (socksCapture, error) {
	var sc socksCapture
	c, err := ln.Accept()
	if err != nil {
		return sc, err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	read := func(n int) []byte {
		b := make([]byte, n)
		if _, e := io.ReadFull(r, b); e != nil && err == nil {
			err = e
		}
		return b
	}
	sc.greeting = read(2)
	sc.greeting = append(sc.greeting, read(int(sc.greeting[1]))...)
	if bytes.IndexByte(sc.greeting[2:], 2) >= 0 {
		c.Write([]byte{5, 2})
		read(1) // subnegotiation version
		sc.user = read(int(read(1)[0]))
		sc.pass = read(int(read(1)[0]))
		c.Write([]byte{1, 0})
	} else {
		c.Write([]byte{5, 0})
	}
	sc.request = read(4)
	switch sc.request[3] {
	case 1:
		sc.request = append(sc.request, read(4+2)...)
	case 4:
		sc.request = append(sc.request, read(16+2)...)
	case 3:
		n := read(1)
		sc.request = append(append(sc.request, n...), read(int(n[0])+2)...)
	}
	c.Write([]byte{5, reply, 0, 1, 0, 0, 0, 0, 0, 0})
	if reply == 0 {
		io.Copy(io.Discard, c)
	}
	return sc, err
}

func TestDialSOCKSEncoding(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name       string
		args       []tortest.KV
		target     string
		greeting   []byte
		user, pass string
		request    []byte
	}{
		{"no args", nil, "192.0.2.1:443",
			[]byte{5, 1, 0}, "", "", []byte{5, 1, 0, 1, 192, 0, 2, 1, 1, 187}},
		{"escapes", []tortest.KV{{"cert", `a;b\c=d`}, {"iat-mode", "0"}}, "[2001:db8::1]:80",
			[]byte{5, 2, 0, 2}, `cert=a\;b\\c=d;iat-mode=0`, "\x00",
			append(append([]byte{5, 1, 0, 4}, net.ParseIP("2001:db8::1")...), 0, 80)},
		{"exactly 255", []tortest.KV{{"k", strings.Repeat("y", 253)}}, "example.com:1",
			[]byte{5, 2, 0, 2}, "k=" + strings.Repeat("y", 253), "\x00",
			append(append([]byte{5, 1, 0, 3, 11}, "example.com"...), 0, 1)},
		{"long", []tortest.KV{{"key", long}, {"semi", ";;"}}, "192.0.2.1:1",
			[]byte{5, 2, 0, 2}, ("key=" + long)[:255], ("key=" + long)[255:] + `;semi=\;\;`,
			[]byte{5, 1, 0, 1, 192, 0, 2, 1, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan socksCapture, 1)
			go func() {
				sc, _ := captureSOCKS(ln, 0)
				done <- sc
			}()
			c, rep, err := tortest.DialSOCKS(ctxFor(t, 5*time.Second), ln.Addr().String(), tc.target, tc.args)
			if err != nil || rep != 0 {
				t.Fatalf("DialSOCKS: reply %d, %v", rep, err)
			}
			c.Close()
			sc := <-done
			if !bytes.Equal(sc.greeting, tc.greeting) {
				t.Errorf("greeting %x, want %x", sc.greeting, tc.greeting)
			}
			if string(sc.user) != tc.user || string(sc.pass) != tc.pass {
				t.Errorf("user %q pass %q\nwant %q %q", sc.user, sc.pass, tc.user, tc.pass)
			}
			if !bytes.Equal(sc.request, tc.request) {
				t.Errorf("request %x, want %x", sc.request, tc.request)
			}
		})
	}

	if _, _, err := tortest.DialSOCKS(context.Background(), "127.0.0.1:1", "192.0.2.1:1",
		[]tortest.KV{{"k", strings.Repeat("z", 600)}}); err == nil {
		t.Error("args over 510 bytes accepted")
	}
}

// TestDialSOCKSReplyFromCapture checks a failure reply comes back as is.
func TestDialSOCKSReplyFromCapture(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		captureSOCKS(ln, tortest.ReplyHostUnreachable)
		close(done)
	}()
	_, rep, err := tortest.DialSOCKS(ctxFor(t, 5*time.Second), ln.Addr().String(), "192.0.2.1:1", nil)
	<-done
	if rep != tortest.ReplyHostUnreachable || err == nil {
		t.Errorf("reply 0x%02x err %v", rep, err)
	}
}

// TestDialSOCKSGoptlib checks that goptlib, which water-pt uses, decodes our
// encoding of awkward arguments back to the same pairs, short and long.
func TestDialSOCKSGoptlib(t *testing.T) {
	ln, err := pt.ListenSocks("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, args := range [][]tortest.KV{
		{{"secret", fakeSecret}},
		{{"a", `\;=\\;`}, {"b", "="}, {"a", "second"}},
		{{"cert", strings.Repeat(`;\`, 100)}, {"x", strings.Repeat("y", 100)}},
	} {
		got := make(chan *pt.SocksConn, 1)
		go func() {
			c, err := ln.AcceptSocks()
			if err != nil {
				got <- nil
				return
			}
			c.Grant(nil)
			got <- c
		}()
		c, _, err := tortest.DialSOCKS(ctxFor(t, 5*time.Second), ln.Addr().String(), "192.0.2.9:99", args)
		sc := <-got
		if err != nil || sc == nil {
			t.Fatalf("args %q: %v", args, err)
		}
		c.Close()
		sc.Close()
		want := pt.Args{}
		for _, kv := range args {
			want.Add(kv.Key, kv.Value)
		}
		if !reflect.DeepEqual(sc.Req.Args, want) || sc.Req.Target != "192.0.2.9:99" {
			t.Errorf("goptlib decoded %q to %q (target %s)", args, sc.Req.Args, sc.Req.Target)
		}
	}
}

// TestCheckEcho checks CheckEcho against a plain echo and a corrupting one.
func TestCheckEcho(t *testing.T) {
	for _, corruptAt := range []int64{-1, 0, 123456} {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 4096)
			var off int64
			for {
				n, err := c.Read(buf)
				if corruptAt >= off && corruptAt < off+int64(n) {
					buf[corruptAt-off] ^= 0xff
				}
				off += int64(n)
				if _, werr := c.Write(buf[:n]); werr != nil || err != nil {
					return
				}
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		err = tortest.CheckEcho(c, 1<<20)
		c.Close()
		<-done
		ln.Close()
		var mm *tortest.MismatchError
		switch {
		case corruptAt < 0 && err != nil:
			t.Errorf("clean echo: %v", err)
		case corruptAt >= 0 && (!errors.As(err, &mm) || mm.Offset != corruptAt):
			t.Errorf("corrupt at %d: %v", corruptAt, err)
		}
	}
}

// TestCheckEchoPeerCloses checks CheckEcho fails (and returns) when the peer
// closes early instead of echoing everything.
func TestCheckEchoPeerCloses(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err == nil {
			io.CopyN(c, c, 1000)
			c.Close()
		}
	}()
	c, _ := net.Dial("tcp", ln.Addr().String())
	defer c.Close()
	if err := tortest.CheckEcho(c, 8<<20); err == nil {
		t.Error("CheckEcho succeeded against a peer that closed after 1000 bytes")
	} else {
		t.Logf("CheckEcho: %v", err)
	}
	<-done
}

// BenchmarkPair measures fakept (goptlib and io.Copy, the anchors' "baseline
// PT") through the whole harness: SOCKS in, ExtORPort out.
func BenchmarkPair(b *testing.B) {
	pair := tortest.StartPair(b, tortest.PairConfig{Binary: fakePT.Path(b), Transport: "water", Mode: extortest.Dispatch()})
	const n = 256 << 20
	ctx := context.Background()
	b.Run("up", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			c, err := pair.Dial(ctx)
			if err != nil {
				b.Fatal(err)
			}
			c.Write(extortest.Sink().Header())
			tortest.NewStream(1).WriteN(c, n)
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c)
			c.Close()
		}
	})
	b.Run("down", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			c, err := pair.Dial(ctx)
			if err != nil {
				b.Fatal(err)
			}
			c.Write(extortest.Source(n).Header())
			if got, err := tortest.NewChecker(extortest.DefaultSeed).ReadFrom(c); got != n || err != nil {
				b.Fatal(got, err)
			}
			c.Close()
		}
	})
	b.Run("echo", func(b *testing.B) {
		c, err := pair.Dial(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.Write(extortest.Echo().Header())
		b.SetBytes(64 << 20)
		for b.Loop() {
			if err := tortest.CheckEcho(c, 64<<20); err != nil {
				b.Fatal(err)
			}
		}
	})
}
