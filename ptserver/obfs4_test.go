package ptserver

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/water-pt/water-pt/watm/modules/obfs4/proto"
)

func TestObfs4IdentityKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pt_state")
	first, err := obfs4Identity(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, Obfs4StateFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
	}
	again, err := obfs4Identity(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *again != *first {
		t.Errorf("second start: identity %+v, want the first %+v", again, first)
	}
	// iat-mode= overrides the file's, without rewriting it.
	before, _ := os.ReadFile(path)
	withIAT, err := obfs4Identity(dir, map[string]string{"iat-mode": "2"})
	if err != nil {
		t.Fatal(err)
	}
	if withIAT.IATMode != 2 || withIAT.Cert() != first.Cert() {
		t.Errorf("iat-mode=2: mode %d cert %s, want 2 and %s", withIAT.IATMode, withIAT.Cert(), first.Cert())
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("iat-mode= rewrote the state file")
	}
}

func TestObfs4IdentityFromFileAndOptions(t *testing.T) {
	id, err := proto.NewServerIdentity(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, Obfs4StateFile), id.StateJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := obfs4Identity(dir, nil)
	if err != nil || got.Cert() != id.Cert() {
		t.Fatalf("from the file: %v, %v; want cert %s", got, err, id.Cert())
	}

	empty := filepath.Join(t.TempDir(), "pt_state")
	got, err = obfs4Identity(empty, id.Args())
	if err != nil || *got != *id {
		t.Fatalf("from options: %+v, %v; want %+v", got, err, id)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("from options: the state directory was created (%v)", err)
	}

	partial := id.Args()
	delete(partial, "drbg-seed")
	_, err = obfs4Identity(empty, partial)
	const want = "ServerTransportOptions give node-id= and private-key= but not drbg-seed="
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("partial options: %v, want %q", err, want)
	}
}

func TestObfs4IdentityBadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, Obfs4StateFile)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := obfs4Identity(dir, nil)
	if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), "move it away to create a new identity") {
		t.Errorf("corrupt state: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{not json" {
		t.Error("the corrupt state file was overwritten")
	}
}

func TestObfs4IdentityNoStateDir(t *testing.T) {
	a, err := obfs4Identity("", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := obfs4Identity("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Cert() == b.Cert() {
		t.Error("without a state directory two starts gave the same identity, want a new one each")
	}
}
