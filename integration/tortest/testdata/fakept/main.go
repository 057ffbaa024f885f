// Command fakept is a minimal goptlib pluggable transport used to test the
// tortest harness before the real water-pt binary exists. It is a plain
// transport (no obfuscation): the client's SOCKS port dials the bridge
// directly, and the server relays each connection to the ExtORPort.
//
// It speaks the managed-proxy protocol like any PT: VERSION 1, one CMETHOD or
// SMETHOD per transport (SMETHOD with ARGS: secret=<Secret> and the server
// transport options echoed), the DONE line, LOG and STATUS lines. The client
// rejects SOCKS requests whose secret argument differs from Secret (reply 2),
// or whose "rep" argument names a reply code, and logs the arguments it got.
// It exits when stdin closes (if TOR_PT_EXIT_ON_STDIN_CLOSE=1) or on SIGTERM
// or SIGINT.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"
)

// Secret is the value of the secret argument the server publishes and the
// client requires. It holds every character that needs escaping somewhere.
const Secret = `s,e=c;r\et:x`

func main() {
	var (
		stderrText  = flag.String("stderr", "", "write this to stderr at start")
		ignoreStdin = flag.Bool("ignore-stdin", false, "do not exit when stdin closes")
		exitDelay   = flag.Duration("exit-delay", 0, "wait this long before exiting")
		exitCode    = flag.Int("exit-code", 0, "exit status")
		envFile     = flag.String("env-file", "", "write the environment, one variable a line, to this file")
	)
	flag.Parse()
	if *stderrText != "" {
		fmt.Fprintln(os.Stderr, *stderrText)
	}
	if *envFile != "" {
		env := os.Environ()
		sort.Strings(env)
		if err := os.WriteFile(*envFile, []byte(strings.Join(env, "\n")+"\n"), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}

	var err error
	if os.Getenv("TOR_PT_CLIENT_TRANSPORTS") != "" {
		err = client()
	} else {
		err = server()
	}
	if err != nil {
		os.Exit(1)
	}
	pt.Log(pt.LogSeverityNotice, "fakept ready: \"quoted\", back\\slash, tab\t, é")

	stop := make(chan string, 2)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { stop <- "signal " + (<-sigs).String() }()
	if os.Getenv("TOR_PT_EXIT_ON_STDIN_CLOSE") == "1" && !*ignoreStdin {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop <- "stdin closed"
		}()
	}
	why := <-stop
	time.Sleep(*exitDelay)
	pt.Log(pt.LogSeverityInfo, "fakept exiting: "+why)
	os.Exit(*exitCode)
}

func client() error {
	info, err := pt.ClientSetup(nil)
	if err != nil {
		return err
	}
	if info.ProxyURL != nil {
		pt.ProxyError("fakept does not support proxies")
		for _, name := range info.MethodNames {
			pt.CmethodError(name, "no proxy support")
		}
		pt.CmethodsDone()
		return nil
	}
	pt.ReportVersion("fakept", "1.0")
	for _, name := range info.MethodNames {
		ln, err := pt.ListenSocks("tcp", "127.0.0.1:0")
		if err != nil {
			pt.CmethodError(name, err.Error())
			continue
		}
		pt.Cmethod(name, ln.Version(), ln.Addr())
		go acceptSocks(ln)
	}
	pt.CmethodsDone()
	return nil
}

func acceptSocks(ln *pt.SocksListener) {
	for {
		conn, err := ln.AcceptSocks()
		if err != nil {
			return
		}
		go handleSocks(conn)
	}
}

func handleSocks(conn *pt.SocksConn) {
	defer conn.Close()
	var keys []string
	for k, vs := range conn.Req.Args {
		for _, v := range vs {
			keys = append(keys, k+"="+v)
		}
	}
	sort.Strings(keys)
	pt.Log(pt.LogSeverityInfo, "socks args: "+strings.Join(keys, " | "))
	if rep, ok := conn.Req.Args.Get("rep"); ok {
		code, _ := strconv.Atoi(rep)
		conn.RejectReason(byte(code))
		return
	}
	if secret, _ := conn.Req.Args.Get("secret"); secret != Secret {
		conn.RejectReason(pt.SocksRepConnectionNotAllowed)
		return
	}
	remote, err := net.Dial("tcp", conn.Req.Target)
	if err != nil {
		conn.RejectReason(pt.SocksRepConnectionRefused)
		return
	}
	defer remote.Close()
	if err := conn.Grant(nil); err != nil {
		return
	}
	relay(conn.Conn.(*net.TCPConn), remote.(*net.TCPConn))
}

func server() error {
	info, err := pt.ServerSetup(nil)
	if err != nil {
		return err
	}
	for _, ba := range info.Bindaddrs {
		ln, err := net.ListenTCP("tcp", ba.Addr)
		if err != nil {
			pt.SmethodError(ba.MethodName, err.Error())
			continue
		}
		args := pt.Args{}
		for k, vs := range ba.Options {
			for _, v := range vs {
				args.Add(k, v)
			}
		}
		args.Add("secret", Secret)
		pt.SmethodArgs(ba.MethodName, ln.Addr(), args)
		go acceptServer(ln, &info, ba.MethodName)
	}
	pt.SmethodsDone()
	return nil
}

func acceptServer(ln *net.TCPListener, info *pt.ServerInfo, name string) {
	for {
		conn, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			or, err := pt.DialOr(info, conn.RemoteAddr().String(), name)
			if err != nil {
				pt.Log(pt.LogSeverityWarning, "DialOr: "+err.Error())
				return
			}
			defer or.Close()
			relay(conn, or)
		}()
	}
}

// relay copies both ways, passing half-closes on.
func relay(a, b *net.TCPConn) {
	done := make(chan struct{})
	go func() {
		io.Copy(b, a)
		b.CloseWrite()
		close(done)
	}()
	io.Copy(a, b)
	a.CloseWrite()
	<-done
}
