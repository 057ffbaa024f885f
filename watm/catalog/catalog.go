// Package catalog turns the PT arguments of a bridge line (client) or of
// ServerTransportOptions (server) into a loaded WATM: which module (watm=,
// a name looked up in the WATM directories, then among the embedded modules,
// or an absolute path), its pin (watm-sha256=), and its config (watm-config=,
// or the module's own key=value arguments encoded as one config). The
// modules run on a [watm.Runtime]; this package only finds, pins and loads
// them, and names the PT methods (Transport) water-pt serves.
package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/water-pt/water-pt/watm"
)

// The per-bridge (client) and ServerTransportOptions (server) arguments that
// choose and configure a module.
const (
	ArgModule       = "watm"               // a name, or an absolute path to a .wasm file
	ArgSHA256       = "watm-sha256"        // pins the module's bytes
	ArgConfig       = "watm-config"        // base64 config handed to the module
	ArgClientConfig = "watm-client-config" // server only: the config clients get in SMETHOD ARGS
)

// Spec says which module a connection uses and with what config.
type Spec struct {
	Name   string // "" means the default
	SHA256 string // lower-case hex, or "" for no pin
	Config []byte // nil means no config
	// Args are the module's own arguments: every key water-pt does not
	// consume (SpecFromArgs). nil means none.
	Args map[string]string
	// Embedded restricts the search to the embedded modules (a transport
	// that fixes its module must not pick up a file of the same name).
	Embedded bool
}

// ParseSpec reads a Spec from PT arguments. get returns an argument's value.
func ParseSpec(get func(key string) (string, bool)) (Spec, error) {
	var s Spec
	if v, ok := get(ArgModule); ok {
		if v == "" {
			return s, fmt.Errorf("%s= is empty: give a module name or an absolute path", ArgModule)
		}
		s.Name = v
	}
	if v, ok := get(ArgSHA256); ok {
		v = strings.ToLower(v)
		if b, err := hex.DecodeString(v); err != nil || len(b) != sha256.Size {
			return s, fmt.Errorf("%s=%q is not 64 hex digits", ArgSHA256, v)
		}
		s.SHA256 = v
	}
	if v, ok := get(ArgConfig); ok {
		cfg, err := DecodeConfig(v)
		if err != nil {
			return s, fmt.Errorf("%s: %w", ArgConfig, err)
		}
		s.Config = cfg
	}
	return s, nil
}

// DecodeConfig accepts standard or URL-safe base64, padded or not.
func DecodeConfig(v string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%q is not base64", v)
}

// EncodeConfig is how water-pt writes a config into ARGS: standard base64
// without padding, so no '=' needs escaping.
func EncodeConfig(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

// Catalog finds modules by name: first in the WATM directories (NAME.wasm),
// then among the embedded modules; an absolute path loads that file. A
// module file is read again only when its size or modification time
// changes, so a new version dropped in place is picked up by the next
// connection, and compiled once.
type Catalog struct {
	rt  *watm.Runtime
	cfg config

	mu             sync.Mutex
	files          map[string]fileEntry
	embeddedLoaded map[string]*watm.Module // embedded modules never change: loaded once
}

// config is what the Options set.
type config struct {
	dirs       []string
	embedded   func(name string) ([]byte, bool)
	names      []string // embedded names, for error messages
	def        string
	moduleArgs func(name string, server bool) (keys []string, ok bool)
	trustFiles bool
	maxSize    int64
}

// Option configures a Catalog (New).
type Option func(*config)

// WithDirs adds WATM directories, searched in order for NAME.wasm before
// the embedded modules.
func WithDirs(dirs ...string) Option {
	return func(c *config) { c.dirs = append(c.dirs, dirs...) }
}

// WithEmbedded sets the modules built into the binary: lookup returns one
// by name, names lists them (for error messages), and def is the module a
// Spec that names none gets.
func WithEmbedded(lookup func(name string) ([]byte, bool), names []string, def string) Option {
	return func(c *config) { c.embedded, c.names, c.def = lookup, names, def }
}

// WithModuleArgs tells the argument keys an embedded module takes (ok
// false: not known), so that CheckArgs refuses the others.
func WithModuleArgs(f func(name string, server bool) (keys []string, ok bool)) Option {
	return func(c *config) { c.moduleArgs = f }
}

// WithTrustedFiles loads modules from files with LoadTrusted (no loop
// checks) when trust is true. Embedded modules are always loaded that way.
func WithTrustedFiles(trust bool) Option {
	return func(c *config) { c.trustFiles = trust }
}

// WithMaxFileSize sets the largest module file read (0 or less:
// DefaultMaxFileSize).
func WithMaxFileSize(n int64) Option {
	return func(c *config) { c.maxSize = n }
}

// New returns a Catalog that loads modules on rt.
func New(rt *watm.Runtime, opts ...Option) *Catalog {
	c := &Catalog{rt: rt, files: map[string]fileEntry{}, embeddedLoaded: map[string]*watm.Module{}}
	for _, o := range opts {
		o(&c.cfg)
	}
	if c.cfg.maxSize <= 0 {
		c.cfg.maxSize = DefaultMaxFileSize
	}
	return c
}

// Resolved is a loaded module and the name clients should ask for it by.
type Resolved struct {
	Module *watm.Module
	Name   string // the name without directory and .wasm
	Source string // the file, or "embedded"
}

// Load finds, compiles and checks the module a Spec names.
func (c *Catalog) Load(ctx context.Context, s Spec) (Resolved, error) {
	name := s.Name
	if name == "" {
		name = c.cfg.def
	}
	r, err := c.find(ctx, name, s.Embedded)
	if err != nil {
		return r, err
	}
	if s.SHA256 != "" && r.Module.SHA256() != s.SHA256 {
		return r, fmt.Errorf("watm: module %q (%s) has sha256 %s, but %s pins %s",
			name, r.Source, r.Module.SHA256(), ArgSHA256, s.SHA256)
	}
	return r, nil
}

// SourceEmbedded is Resolved.Source for an embedded module.
const SourceEmbedded = "embedded"

func (c *Catalog) find(ctx context.Context, name string, embeddedOnly bool) (Resolved, error) {
	if filepath.IsAbs(name) {
		m, err := c.loadFile(ctx, name)
		return Resolved{Module: m, Name: strings.TrimSuffix(filepath.Base(name), ".wasm"), Source: name}, err
	}
	if !validName(name) {
		return Resolved{}, fmt.Errorf("watm: %s=%q: a name may use letters, digits, '-' and '_', or be an absolute path to a .wasm file", ArgModule, name)
	}
	for _, dir := range c.cfg.dirs {
		if embeddedOnly {
			break
		}
		path := filepath.Join(dir, name+".wasm")
		m, err := c.loadFile(ctx, path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		return Resolved{Module: m, Name: name, Source: path}, err
	}
	if m, ok, err := c.loadEmbedded(ctx, name); ok {
		return Resolved{Module: m, Name: name, Source: SourceEmbedded}, err
	}
	where := "the embedded modules (" + strings.Join(c.cfg.names, ", ") + ")"
	if len(c.cfg.dirs) > 0 {
		where = strings.Join(c.cfg.dirs, ", ") + " and " + where
	}
	return Resolved{}, fmt.Errorf("watm: no module named %q: looked in %s; put %s.wasm in a WATM directory (-watm-dir) or give an absolute path", name, where, name)
}

// loadEmbedded loads an embedded module once; ok is false when there is no
// embedded module of that name.
func (c *Catalog) loadEmbedded(ctx context.Context, name string) (*watm.Module, bool, error) {
	c.mu.Lock()
	m := c.embeddedLoaded[name]
	c.mu.Unlock()
	if m != nil {
		return m, true, nil
	}
	if c.cfg.embedded == nil {
		return nil, false, nil
	}
	b, ok := c.cfg.embedded(name)
	if !ok {
		return nil, false, nil
	}
	m, err := c.rt.LoadTrusted(ctx, b) // ours, tested to always reach a host call
	if err != nil {
		return nil, true, err
	}
	c.mu.Lock()
	c.embeddedLoaded[name] = m
	c.mu.Unlock()
	return m, true, nil
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
