package ptserver

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/water-pt/water-pt/watm/modules/obfs4/proto"
)

// Obfs4StateFile is the obfs4 server identity in the state directory: the
// file name and format of obfs4proxy and lyrebird, so that an operator who
// switches binaries with the same tor DataDirectory keeps the identity, and
// with it the bridge line.
const Obfs4StateFile = "obfs4_state.json"

// Obfs4Module is the module that needs a server identity.
const Obfs4Module = "obfs4"

// The ServerTransportOptions that set the identity instead of the state
// file, as lyrebird takes them.
const (
	optNodeID     = "node-id"
	optPrivateKey = "private-key"
	optDRBGSeed   = "drbg-seed"
	optIATMode    = "iat-mode"
)

// obfs4Identity is the identity a method serving the obfs4 module uses, as
// lyrebird decides it: node-id=, private-key= and drbg-seed= in the
// options (all three, or none) replace the state file; otherwise
// obfs4_state.json in stateDir is read, or created (0600) on first start.
// iat-mode= in the options overrides the file's.
func obfs4Identity(stateDir string, opts map[string]string) (*proto.ServerIdentity, error) {
	given := 0
	for _, k := range []string{optNodeID, optPrivateKey, optDRBGSeed} {
		if _, ok := opts[k]; ok {
			given++
		}
	}
	get := func(k string) (string, bool) { v, ok := opts[k]; return v, ok }
	if given > 0 {
		for _, k := range []string{optNodeID, optPrivateKey, optDRBGSeed} {
			if _, ok := opts[k]; !ok {
				return nil, fmt.Errorf("ServerTransportOptions give %s but not %s= (node-id=, private-key= and drbg-seed= go together; "+
					"or give none and water-pt keeps the identity in %s)", presentKeys(opts), k, Obfs4StateFile)
			}
		}
		id, err := proto.ServerIdentityFromArgs(get)
		if err != nil {
			return nil, fmt.Errorf("ServerTransportOptions: %w", err)
		}
		return id, nil
	}
	id, err := loadOrCreateObfs4State(stateDir)
	if err != nil {
		return nil, err
	}
	if _, ok := opts[optIATMode]; ok {
		args := id.Args()
		args[optIATMode] = opts[optIATMode]
		if id, err = proto.ServerIdentityFromArgs(func(k string) (string, bool) { v, ok := args[k]; return v, ok }); err != nil {
			return nil, fmt.Errorf("ServerTransportOptions: %w", err)
		}
	}
	return id, nil
}

func presentKeys(opts map[string]string) string {
	s := ""
	for _, k := range []string{optNodeID, optPrivateKey, optDRBGSeed} {
		if _, ok := opts[k]; ok {
			if s != "" {
				s += " and "
			}
			s += k + "="
		}
	}
	return s
}

// loadOrCreateObfs4State reads stateDir/obfs4_state.json, or creates it
// with a new identity when there is none. Without a state directory the
// identity is new on every start (the caller says so).
func loadOrCreateObfs4State(stateDir string) (*proto.ServerIdentity, error) {
	if stateDir == "" { // standalone without -state, the demo
		return proto.NewServerIdentity(rand.Reader)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the state directory for the obfs4 identity: %w", err)
	}
	path := filepath.Join(stateDir, Obfs4StateFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id, err := proto.ParseStateJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (move it away to create a new identity, which changes the bridge line)", path, err)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cannot read the obfs4 identity: %w", err)
	}
	id, err := proto.NewServerIdentity(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, id.StateJSON()); err != nil {
		return nil, fmt.Errorf("cannot write the obfs4 identity: %w", err)
	}
	return id, nil
}

// writeFileAtomic writes data to path (0600) through a temporary file, so
// that a crash leaves the old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // WriteFile keeps an existing file's mode
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
