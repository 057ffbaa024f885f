package proto

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"
)

func mapGetter(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestServerIdentityArgsRoundTrip(t *testing.T) {
	id := testIdentity(t, 2)
	got, err := ServerIdentityFromArgs(mapGetter(id.Args()))
	if err != nil {
		t.Fatal(err)
	}
	if *got != *id {
		t.Fatalf("Args round trip: got %+v, want %+v", got, id)
	}
	// iat-mode may be left out (0), as in lyrebird.
	args := id.Args()
	delete(args, "iat-mode")
	if got, err := ServerIdentityFromArgs(mapGetter(args)); err != nil || got.IATMode != 0 {
		t.Fatalf("without iat-mode: %+v, %v", got, err)
	}
}

func TestServerIdentityArgsErrors(t *testing.T) {
	id := testIdentity(t, 0)
	cases := []struct {
		change func(map[string]string)
		want   string
	}{
		{func(m map[string]string) { delete(m, "drbg-seed") }, `missing argument "drbg-seed"`},
		{func(m map[string]string) { m["node-id"] = "abc" }, "node-id must be 40 hex digits, got 3 characters"},
		{func(m map[string]string) { m["private-key"] = strings.Repeat("zz", 32) }, "private-key is not hex"},
		{func(m map[string]string) { m["iat-mode"] = "3" }, `iat-mode="3" must be 0, 1 or 2`},
	}
	for _, c := range cases {
		args := id.Args()
		c.change(args)
		_, err := ServerIdentityFromArgs(mapGetter(args))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want it to contain %q", err, c.want)
		}
	}
}

func TestParseStateJSONErrors(t *testing.T) {
	id := testIdentity(t, 0)
	other := testIdentity(t, 0)
	mixed := strings.Replace(string(id.StateJSON()),
		`"public-key":"`+hex.EncodeToString(id.PublicKey[:]), `"public-key":"`+hex.EncodeToString(other.PublicKey[:]), 1)
	for _, c := range []struct{ in, want string }{
		{"{", "not valid JSON"},
		{mixed, "public-key does not belong to private-key"},
		{`{"node-id":"00"}`, "node-id must be 40 hex digits"},
	} {
		_, err := ParseStateJSON([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseStateJSON(%.40q) error %v, want %q", c.in, err, c.want)
		}
	}
}

func TestParseClientArgs(t *testing.T) {
	id := testIdentity(t, 1)
	want := clientArgsOf(id)
	got, err := ParseClientArgs(mapGetter(map[string]string{"cert": id.Cert(), "iat-mode": "1"}))
	if err != nil || got != want {
		t.Fatalf("cert form: %+v, %v; want %+v", got, err, want)
	}
	if len(id.Cert()) != 70 || strings.Contains(id.Cert(), "=") {
		t.Fatalf("Cert() = %q; want 70 base64 characters without padding", id.Cert())
	}
	got, err = ParseClientArgs(mapGetter(map[string]string{
		"node-id": hex.EncodeToString(id.NodeID[:]), "public-key": hex.EncodeToString(id.PublicKey[:]), "iat-mode": "1"}))
	if err != nil || got != want {
		t.Fatalf("node-id/public-key form: %+v, %v; want %+v", got, err, want)
	}
	for _, c := range []struct {
		args map[string]string
		want string
	}{
		{map[string]string{"iat-mode": "0"}, `missing argument "cert"`},
		{map[string]string{"cert": id.Cert()}, `missing argument "iat-mode"`},
		{map[string]string{"cert": id.Cert()[:60], "iat-mode": "0"}, "is not a bridge line cert"},
		{map[string]string{"cert": id.Cert(), "iat-mode": "x"}, `iat-mode="x" must be 0, 1 or 2`},
	} {
		_, err := ParseClientArgs(mapGetter(c.args))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseClientArgs(%v) error %v, want %q", c.args, err, c.want)
		}
	}
}

func TestNewServerIdentityIsFresh(t *testing.T) {
	a, err := NewServerIdentity(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := testIdentity(t, 0)
	if a.NodeID == b.NodeID || a.PrivateKey == b.PrivateKey || a.DRBGSeed == b.DRBGSeed || a.IATMode != 0 {
		t.Fatalf("two identities share values: %+v %+v", a, b)
	}
}

func TestMemReplayFilter(t *testing.T) {
	f := NewMemReplayFilter(time.Hour)
	t0 := time.Unix(1_700_000_000, 0)
	if f.TestAndSet(t0, []byte("mac-1")) {
		t.Fatal("first sight reported as seen")
	}
	if !f.TestAndSet(t0.Add(59*time.Minute), []byte("mac-1")) {
		t.Fatal("replay within the ttl not seen")
	}
	if f.TestAndSet(t0.Add(59*time.Minute), []byte("mac-2")) {
		t.Fatal("another key reported as seen")
	}
	if f.TestAndSet(t0.Add(61*time.Minute), []byte("mac-1")) {
		t.Fatal("key still seen after its ttl")
	}
	if !f.TestAndSet(t0.Add(62*time.Minute), []byte("mac-2")) {
		t.Fatal("mac-2 (seen at 59 min) forgotten before its ttl")
	}
}

func TestMemReplayFilterIsBounded(t *testing.T) {
	f := NewMemReplayFilter(time.Hour).(*memReplayFilter)
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < maxReplayEntries+10; i++ {
		f.TestAndSet(now, []byte{byte(i), byte(i >> 8), byte(i >> 16)})
	}
	if len(f.seen) > maxReplayEntries || len(f.order) > maxReplayEntries {
		t.Fatalf("filter holds %d/%d entries; bound %d", len(f.seen), len(f.order), maxReplayEntries)
	}
	if f.TestAndSet(now, []byte{0, 0, 0}) {
		t.Fatal("the oldest entry was not the one evicted")
	}
}

// TestWeightedDistFromSeed: the same seed gives the same table on both
// ends; samples stay within [min, max] and only take the table's values.
func TestWeightedDistFromSeed(t *testing.T) {
	var seed [drbgSeedLength]byte
	if _, err := rand.Read(seed[:]); err != nil {
		t.Fatal(err)
	}
	a := newWeightedDist(&seed, 0, maxSegmentLength, newCoins(rand.Reader))
	b := newWeightedDist(&seed, 0, maxSegmentLength, newCoins(rand.Reader))
	if len(a.values) < 1 || len(a.values) > 100 || !slices.Equal(a.values, b.values) || !slices.Equal(a.alias, b.alias) {
		t.Fatalf("tables differ or have a bad size: %v vs %v", a.values, b.values)
	}
	allowed := map[int]bool{}
	for _, v := range a.values {
		allowed[v] = true
	}
	for i := 0; i < 5000; i++ {
		v, err := a.sample()
		if err != nil {
			t.Fatal(err)
		}
		if v < 0 || v > maxSegmentLength || !allowed[v] {
			t.Fatalf("sample %d is not in the table", v)
		}
	}
}
