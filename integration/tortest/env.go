package tortest

import (
	"os"
	"strings"
)

// baseEnv is the only part of the test process's environment a PT gets:
// PATH and HOME, when set. Everything else would make tests depend on the
// machine.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// commonEnv is what tor sets for every managed proxy, in tor's order.
func commonEnv(stateDir string) []string {
	return append(baseEnv(),
		"TOR_PT_STATE_LOCATION="+stateDir,
		"TOR_PT_MANAGED_TRANSPORT_VER=1",
		"TOR_PT_EXIT_ON_STDIN_CLOSE=1",
	)
}

// ClientEnv returns the environment tor gives a client managed proxy:
// TOR_PT_MANAGED_TRANSPORT_VER=1, TOR_PT_STATE_LOCATION, TOR_PT_EXIT_ON_STDIN_CLOSE=1,
// TOR_PT_CLIENT_TRANSPORTS (comma-joined) and, if proxy is not empty,
// TOR_PT_PROXY; plus PATH and HOME from the test process, nothing else.
//
// stateDir should not exist yet (tor uses DataDirectory/pt_state/ and the PT
// creates it), e.g. filepath.Join(t.TempDir(), "pt_state").
//
// Append "KEY=value" entries to add or override variables: exec uses the last
// value of a duplicated key.
func ClientEnv(stateDir string, transports []string, proxy string) []string {
	env := append(commonEnv(stateDir), "TOR_PT_CLIENT_TRANSPORTS="+strings.Join(transports, ","))
	if proxy != "" {
		env = append(env, "TOR_PT_PROXY="+proxy)
	}
	return env
}

// ServerEnv returns the environment tor gives a server managed proxy: the
// common variables (see ClientEnv), TOR_PT_SERVER_TRANSPORTS, TOR_PT_ORPORT
// (if orport is not empty), TOR_PT_SERVER_BINDADDR, TOR_PT_SERVER_TRANSPORT_OPTIONS
// (if options is not empty), TOR_PT_EXTENDED_SERVER_PORT (always: tor sets
// it empty when there is no ExtORPort) and TOR_PT_AUTH_COOKIE_FILE (if
// cookiePath is not empty).
//
// TOR_PT_SERVER_BINDADDR lists "name-addr:port" for every transport, in the
// order of transports, taking the address from bindaddrs; a transport missing
// from bindaddrs gets 127.0.0.1:0 (tor would use its stored address, or
// 0.0.0.0:0, which a test should not listen on). Names in bindaddrs that are
// not in transports are ignored, as tor only lists the transports it launches.
//
// options is the raw TOR_PT_SERVER_TRANSPORT_OPTIONS value: build it with
// ServerTransportOptions.
func ServerEnv(stateDir string, transports []string, bindaddrs map[string]string, options string, orport string, extORPort string, cookiePath string) []string {
	env := append(commonEnv(stateDir), "TOR_PT_SERVER_TRANSPORTS="+strings.Join(transports, ","))
	if orport != "" {
		env = append(env, "TOR_PT_ORPORT="+orport)
	}
	var binds []string
	for _, name := range transports {
		addr, ok := bindaddrs[name]
		if !ok {
			addr = "127.0.0.1:0"
		}
		binds = append(binds, name+"-"+addr)
	}
	env = append(env, "TOR_PT_SERVER_BINDADDR="+strings.Join(binds, ","))
	if options != "" {
		env = append(env, "TOR_PT_SERVER_TRANSPORT_OPTIONS="+options)
	}
	env = append(env, "TOR_PT_EXTENDED_SERVER_PORT="+extORPort)
	if cookiePath != "" {
		env = append(env, "TOR_PT_AUTH_COOKIE_FILE="+cookiePath)
	}
	return env
}

// ServerTransportOptions encodes the ServerTransportOptions of one transport
// as tor does for TOR_PT_SERVER_TRANSPORT_OPTIONS: "name:k=v" for each pair,
// with ':', ';' and '\' in "k=v" escaped by a backslash, joined by ';'. Join
// the results of several transports with ";".
func ServerTransportOptions(transport string, opts []KV) string {
	parts := make([]string, len(opts))
	for i, kv := range opts {
		parts[i] = transport + ":" + escapePTArg(kv.Key+"="+kv.Value, ":;\\")
	}
	return strings.Join(parts, ";")
}

// escapePTArg is tor's tor_escape_str_for_pt_args: a backslash before every
// byte of s that is in chars.
func escapePTArg(s, chars string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(chars, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// LookupEnv returns the value of key in env (the last one, as exec uses).
func LookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}
