package catalog

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// hostArgKeys are the argument keys water-pt consumes itself; every other key
// is the module's (see [SpecFromArgs]).
var hostArgKeys = [...]string{ArgModule, ArgSHA256, ArgConfig, ArgClientConfig}

// IsHostArg reports whether key is one water-pt consumes itself (watm,
// watm-sha256, watm-config, watm-client-config).
func IsHostArg(key string) bool { return slices.Contains(hostArgKeys[:], key) }

// HostArgKeys returns the keys water-pt consumes itself.
func HostArgKeys() []string { return slices.Clone(hostArgKeys[:]) }

// SpecFromArgs reads a Spec from PT arguments (a bridge line's, or a
// method's ServerTransportOptions) and collects every other key into
// Spec.Args, the module's own arguments. Args and watm-config both set is
// an error: a module gets one config.
func SpecFromArgs(args map[string][]string) (Spec, error) {
	get := func(k string) (string, bool) {
		if vs := args[k]; len(vs) > 0 {
			return vs[0], true
		}
		return "", false
	}
	s, err := ParseSpec(get)
	if err != nil {
		return s, err
	}
	for k, vs := range args {
		if IsHostArg(k) {
			continue
		}
		if len(vs) != 1 {
			return s, fmt.Errorf("argument %q is given %d times, want once", k, len(vs))
		}
		if s.Args == nil {
			s.Args = map[string]string{}
		}
		s.Args[k] = vs[0]
	}
	if s.Config != nil && len(s.Args) > 0 {
		return s, fmt.Errorf("both %s= and module arguments (%s) are given: a module gets one config, "+
			"either %s= or its own k=v arguments; drop one", ArgConfig, strings.Join(slices.Sorted(maps.Keys(s.Args)), ", "), ArgConfig)
	}
	return s, nil
}

// ModuleConfig is the config the module receives: watm-config when given,
// else the module arguments encoded by [EncodeArgs], else nil.
func (s Spec) ModuleConfig() []byte {
	if s.Config != nil || len(s.Args) == 0 {
		return s.Config
	}
	return EncodeArgs(s.Args)
}

// EncodeArgs encodes module arguments as a module's config: key=value pairs
// joined by ';', keys sorted, and every '\', ';' and '=' inside a key or a
// value escaped with a backslash, e.g. `cert=AbC\=\=;iat-mode=0`. The guest
// SDK's guest.Args decodes it.
func EncodeArgs(args map[string]string) []byte {
	var b []byte
	for i, k := range slices.Sorted(maps.Keys(args)) {
		if i > 0 {
			b = append(b, ';')
		}
		b = appendArgEscaped(b, k)
		b = append(b, '=')
		b = appendArgEscaped(b, args[k])
	}
	return b
}

func appendArgEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == ';' || c == '=' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

// UnknownArgError is a module argument that neither water-pt nor the module
// takes.
type UnknownArgError struct {
	Key       string
	HostKeys  []string // what water-pt takes here (none on a transport that fixes the module)
	Module    string
	Known     []string // what the module takes
	Transport string   // set when the transport fixes the module (e.g. obfs4)
}

func (e *UnknownArgError) Error() string {
	takes := "takes no arguments"
	if len(e.Known) > 0 {
		takes = "takes: " + strings.Join(e.Known, ", ")
	}
	if len(e.HostKeys) == 0 {
		return fmt.Sprintf("unknown argument %q: transport %s runs module %q, which %s", e.Key, e.Transport, e.Module, takes)
	}
	return fmt.Sprintf("unknown argument %q: water-pt takes %s; module %q %s",
		e.Key, strings.Join(e.HostKeys, ", "), e.Module, takes)
}

// Transport is a PT method water-pt serves and how it picks its module.
type Transport struct {
	Name string // the method name, e.g. "water" or "obfs4"
	// Module, when set, is the embedded module every connection runs: the
	// args cannot choose another, so water-pt takes none of its own keys.
	// Empty: the args choose (watm=, else the catalog's default).
	Module string
}

// Spec reads the Spec of a connection on t from its args.
func (t Transport) Spec(args map[string][]string) (Spec, error) {
	if t.Module != "" {
		for _, k := range hostArgKeys {
			if _, ok := args[k]; ok {
				return Spec{}, fmt.Errorf("argument %s= is not taken by transport %s, which always runs the embedded %s module; "+
					"to choose a module, use transport water (e.g. Bridge water ... %s=%s)", k, t.Name, t.Module, ArgModule, t.Module)
			}
		}
	}
	s, err := SpecFromArgs(args)
	if t.Module != "" {
		s.Name, s.Embedded = t.Module, true
	}
	return s, err
}

// hostKeys are the keys water-pt takes itself on t.
func (t Transport) hostKeys(server bool) []string {
	switch {
	case t.Module != "":
		return nil
	case server:
		return HostArgKeys()
	}
	return []string{ArgModule, ArgSHA256, ArgConfig}
}

// CheckArgs refuses a module argument that neither water-pt nor the
// resolved module takes, when the catalog knows the module's keys (the
// embedded modules, through WithModuleArgs). Other modules check their
// arguments themselves when they start.
func (c *Catalog) CheckArgs(t Transport, server bool, r Resolved, args map[string]string) error {
	if c.cfg.moduleArgs == nil || r.Source != SourceEmbedded {
		return nil
	}
	known, ok := c.cfg.moduleArgs(r.Name, server)
	if !ok {
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(args)) {
		if !slices.Contains(known, k) {
			return &UnknownArgError{Key: k, HostKeys: t.hostKeys(server), Module: r.Name, Known: known, Transport: t.Name}
		}
	}
	return nil
}

// FindTransport returns the transport of ts named name, or an error that
// lists what ts provides.
func FindTransport(ts []Transport, name string) (Transport, error) {
	names := make([]string, 0, len(ts))
	for _, t := range ts {
		if t.Name == name {
			return t, nil
		}
		names = append(names, t.Name)
	}
	return Transport{}, fmt.Errorf("no such transport: water-pt provides %s", strings.Join(names, ", "))
}
