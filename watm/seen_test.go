package watm

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// seenHarness instantiates testdata/seen.wasm against the real env host
// module, as an instance of a module whose water_seen set is set.
func seenHarness(t *testing.T, set *seenSet) (api.Module, context.Context) {
	t.Helper()
	return harness(t, "testdata/seen.wasm", testInstance(t, &Module{seen: set}))
}

// harness instantiates a testdata module against the real host modules;
// its calls run as instance in's.
func harness(t *testing.T, file string, in *instance) (api.Module, context.Context) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	if err := instantiateHostModules(ctx, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateWithConfig(ctx, b, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	return mod, context.WithValue(ctx, instanceKey{}, in)
}

func TestWaterSeen(t *testing.T) {
	mod, ctx := seenHarness(t, newSeenSet(8))
	mem := mod.Memory()
	mem.Write(0x100, []byte("handshake-mac-1!"))
	mem.Write(0x200, []byte("handshake-mac-2!"))
	call := func(ptr, n uint32, ttl int32) int32 {
		res, err := mod.ExportedFunction("seen").Call(ctx, uint64(ptr), uint64(n), uint64(uint32(ttl)))
		if err != nil {
			t.Fatal(err)
		}
		return int32(uint32(res[0]))
	}
	for _, tc := range []struct {
		name      string
		ptr, n    uint32
		ttl       int32
		want      int32
		wantErrno Errno
	}{
		{name: "first time", ptr: 0x100, n: 16, ttl: 60, want: 0},
		{name: "again", ptr: 0x100, n: 16, ttl: 60, want: 1},
		{name: "another key", ptr: 0x200, n: 16, ttl: 60, want: 0},
		{name: "a prefix is another key", ptr: 0x100, n: 15, ttl: 60, want: 0},
		{name: "the longest key", ptr: 0x100, n: 64, ttl: 60, want: 0},
		{name: "key too long", ptr: 0x100, n: 65, ttl: 60, wantErrno: EINVAL},
		{name: "empty key", ptr: 0x100, n: 0, ttl: 60, wantErrno: EINVAL},
		{name: "zero ttl", ptr: 0x100, n: 16, ttl: 0, wantErrno: EINVAL},
		{name: "negative ttl", ptr: 0x100, n: 16, ttl: -5, wantErrno: EINVAL},
		{name: "past the end of memory", ptr: 0xfff8, n: 16, ttl: 60, wantErrno: EFAULT},
		{name: "pointer wraps", ptr: 0xfffffff8, n: 16, ttl: 60, wantErrno: EFAULT},
		{name: "refused for its ttl", ptr: 0x300, n: 16, ttl: 0, wantErrno: EINVAL},
		{name: "a refused call recorded nothing", ptr: 0x300, n: 16, ttl: 60, want: 0},
	} {
		want := tc.want
		if tc.wantErrno != 0 {
			want = -int32(tc.wantErrno)
		}
		if got := call(tc.ptr, tc.n, tc.ttl); got != want {
			t.Errorf("%s: water_seen(%#x, %d, %d) = %d, want %d", tc.name, tc.ptr, tc.n, tc.ttl, got, want)
		}
	}
}

func TestSeenSetExpiryAndBound(t *testing.T) {
	s := newSeenSet(3)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at   time.Duration
		key  string
		ttl  time.Duration
		want bool
	}{
		{0, "a", 10 * time.Second, false},
		{9 * time.Second, "a", 10 * time.Second, true},   // within ttl
		{10 * time.Second, "a", 10 * time.Second, false}, // expired: recorded again
		{11 * time.Second, "a", 10 * time.Second, true},
		{11 * time.Second, "b", time.Hour, false},
		// The ring is full with a(0s, stale), a(10s), b: "c" evicts the
		// oldest slot, the stale record of a, and a's newer one stays.
		{11 * time.Second, "c", time.Hour, false},
		{11 * time.Second, "a", time.Hour, true},
		// "d" evicts a itself; b, c and d stay.
		{12 * time.Second, "d", time.Hour, false},
		{12 * time.Second, "b", time.Hour, true},
		{12 * time.Second, "c", time.Hour, true},
		{12 * time.Second, "a", time.Hour, false}, // recorded again, evicting b
		{12 * time.Second, "b", time.Hour, false},
	}
	for i, st := range steps {
		if got := s.testAndSet(t0.Add(st.at), st.key, st.ttl); got != st.want {
			t.Errorf("step %d: testAndSet(+%v, %q, %v) = %v, want %v", i, st.at, st.key, st.ttl, got, st.want)
		}
		if n := s.len(); n > 3 {
			t.Fatalf("step %d: %d keys held, bound is 3", i, n)
		}
	}
}
