package watm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"os"
	"testing"

	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
	"github.com/water-pt/water-pt/watm/modules"
	"github.com/water-pt/water-pt/watm/watmtest"
	"golang.org/x/crypto/nacl/secretbox"
)

// boxHarness drives testdata/hostbox.wasm, an instance whose fd 3 is the
// preopened /water, with requests the test writes into its memory.
type boxHarness struct {
	t   *testing.T
	mod api.Module
	ctx context.Context
}

// Harness memory: the path, path_open's result, an iovec, a count, the
// request, the reply (4 pages = 256 KiB in all).
const (
	hbPath   = 0x10
	hbResult = 0x40
	hbIovec  = 0x80
	hbCount  = 0x90
	hbData   = 0x1000
	hbReply  = 0x20000
)

func newBoxHarness(t *testing.T) *boxHarness {
	t.Helper()
	in := testInstance(t, &Module{})
	if fd, _ := in.wasi.Insert(newServicesDir()); fd != 3 {
		t.Fatalf("/water is fd %d, want 3", fd)
	}
	mod, ctx := harness(t, "testdata/hostbox.wasm", in)
	return &boxHarness{t: t, mod: mod, ctx: ctx}
}

func (h *boxHarness) call(name string, args ...uint64) Errno {
	h.t.Helper()
	res, err := h.mod.ExportedFunction(name).Call(h.ctx, args...)
	if err != nil {
		h.t.Fatalf("%s: %v", name, err)
	}
	return Errno(res[0])
}

// pathOpen opens name in fd dir with rights, the result at result.
func (h *boxHarness) pathOpen(dir int32, name string, namePtr, result uint32, oflags uint16, rights uint64) (int32, Errno) {
	h.mod.Memory().Write(hbPath, []byte(name))
	e := h.call("path_open", uint64(dir), 0, uint64(namePtr), uint64(len(name)), uint64(oflags), rights, 0, 0, uint64(result))
	fd, _ := h.mod.Memory().ReadUint32Le(hbResult)
	return int32(fd), e
}

const rightsReadWrite = 1<<1 | 1<<6

func (h *boxHarness) open() int32 {
	h.t.Helper()
	return h.openService(secretboxName)
}

// openService opens /water/name for reading and writing.
func (h *boxHarness) openService(name string) int32 {
	h.t.Helper()
	fd, e := h.pathOpen(3, name, hbPath, hbResult, 0, rightsReadWrite)
	if e != ESUCCESS {
		h.t.Fatalf("path_open(/water, %s) = %v", name, e)
	}
	return fd
}

// write writes p with one fd_write of one iovec and returns the count.
func (h *boxHarness) write(fd int32, p []byte) (int, Errno) {
	mem := h.mod.Memory()
	mem.Write(hbData, p)
	mem.WriteUint32Le(hbIovec, hbData)
	mem.WriteUint32Le(hbIovec+4, uint32(len(p)))
	e := h.call("fd_write", uint64(fd), hbIovec, 1, hbCount)
	n, _ := mem.ReadUint32Le(hbCount)
	return int(n), e
}

// read reads the pending reply with one fd_read of up to max bytes.
func (h *boxHarness) read(fd int32, max int) []byte {
	h.t.Helper()
	mem := h.mod.Memory()
	mem.WriteUint32Le(hbIovec, hbReply)
	mem.WriteUint32Le(hbIovec+4, uint32(max))
	if e := h.call("fd_read", uint64(fd), hbIovec, 1, hbCount); e != ESUCCESS {
		h.t.Fatalf("fd_read = %v", e)
	}
	n, _ := mem.ReadUint32Le(hbCount)
	b, _ := mem.Read(hbReply, n)
	return bytes.Clone(b)
}

// mustWrite writes a whole request.
func (h *boxHarness) mustWrite(fd int32, req []byte) {
	h.t.Helper()
	if n, e := h.write(fd, req); e != ESUCCESS || n != len(req) {
		h.t.Fatalf("fd_write of a %d-byte request = %d, %v", len(req), n, e)
	}
}

func boxHeader(op, n, body int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(op))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return binary.LittleEndian.AppendUint32(b, uint32(body))
}

func keyRequest(key *[32]byte) []byte { return append(boxHeader(boxOpKey, 0, 32), key[:]...) }

// batchRequest is a seal or open request of items with nonces.
func batchRequest(op int, nonces [][24]byte, items [][]byte) []byte {
	var recs, data []byte
	for i, it := range items {
		recs = append(recs, nonces[i][:]...)
		recs = binary.LittleEndian.AppendUint32(recs, uint32(len(it)))
		data = append(data, it...)
	}
	return append(append(boxHeader(op, len(items), len(recs)+len(data)), recs...), data...)
}

func randomNonces(n int) [][24]byte {
	ns := make([][24]byte, n)
	for i := range ns {
		rand.Read(ns[i][:])
	}
	return ns
}

func randomMessages(sizes ...int) [][]byte {
	ms := make([][]byte, len(sizes))
	for i, n := range sizes {
		ms[i] = make([]byte, n)
		rand.Read(ms[i])
	}
	return ms
}

// TestHostSecretboxMatchesXCrypto: sealing through the service gives
// x/crypto's boxes byte for byte, and opening gives the messages back,
// for requests written whole, in one-byte pieces, and at the size bounds.
func TestHostSecretboxMatchesXCrypto(t *testing.T) {
	h := newBoxHarness(t)
	var key [32]byte
	rand.Read(key[:])
	fd := h.open()
	h.mustWrite(fd, keyRequest(&key))

	sizes := [][]int{{0}, {1, 1427, 0, 33, 1430}, {boxMaxBytes}}
	full := make([]int, boxMaxCount)
	for i := range full {
		full[i] = boxMaxBytes / boxMaxCount
	}
	sizes = append(sizes, full)
	for _, sz := range sizes {
		msgs, nonces := randomMessages(sz...), randomNonces(len(sz))
		var want []byte
		want = binary.LittleEndian.AppendUint32(want, uint32(len(sz)))
		var boxes [][]byte
		for i, m := range msgs {
			box := secretbox.Seal(nil, m, &nonces[i], &key)
			boxes = append(boxes, box)
			want = append(want, box...)
		}
		h.mustWrite(fd, batchRequest(boxOpSeal, nonces, msgs))
		if got := h.read(fd, len(want)+100); !bytes.Equal(got, want) {
			t.Fatalf("seal of %d messages: the reply differs from x/crypto's boxes", len(sz))
		}
		if total := len(want) - 4; total > boxMaxBytes {
			continue // the boxes of a full seal are over an open's bound
		}
		h.mustWrite(fd, batchRequest(boxOpOpen, nonces, boxes))
		wantOpen := binary.LittleEndian.AppendUint32(nil, uint32(len(sz)))
		for _, m := range msgs {
			wantOpen = append(wantOpen, m...)
		}
		if got := h.read(fd, len(wantOpen)+100); !bytes.Equal(got, wantOpen) {
			t.Fatalf("open of %d boxes: the reply is not the messages", len(sz))
		}
	}

	// A request in one-byte writes, the reply in small reads.
	msgs, nonces := randomMessages(100, 7), randomNonces(2)
	for _, b := range batchRequest(boxOpSeal, nonces, msgs) {
		h.mustWrite(fd, []byte{b})
	}
	want := binary.LittleEndian.AppendUint32(nil, 2)
	want = secretbox.Seal(want, msgs[0], &nonces[0], &key)
	want = secretbox.Seal(want, msgs[1], &nonces[1], &key)
	var got []byte
	for {
		b := h.read(fd, 5)
		if len(b) == 0 {
			break
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("a request written byte by byte, read 5 bytes at a time: the reply differs")
	}
}

// TestHostSecretboxOpenStopsAtABadBox: the reply counts the boxes opened
// before the first that fails, and carries only their messages.
func TestHostSecretboxOpenStopsAtABadBox(t *testing.T) {
	h := newBoxHarness(t)
	var key, other [32]byte
	rand.Read(key[:])
	rand.Read(other[:])
	fd := h.open()
	h.mustWrite(fd, keyRequest(&key))
	msgs, nonces := randomMessages(10, 20, 30, 40), randomNonces(4)
	boxes := make([][]byte, 4)
	for i, m := range msgs {
		boxes[i] = secretbox.Seal(nil, m, &nonces[i], &key)
	}
	boxes[2][20] ^= 1                                           // tampered
	boxes[3] = secretbox.Seal(nil, msgs[3], &nonces[3], &other) // another key
	h.mustWrite(fd, batchRequest(boxOpOpen, nonces, boxes))
	want := append(binary.LittleEndian.AppendUint32(nil, 2), msgs[0]...)
	want = append(want, msgs[1]...)
	if got := h.read(fd, 1000); !bytes.Equal(got, want) {
		t.Fatalf("reply %x, want %x", got, want)
	}
	h.mustWrite(fd, batchRequest(boxOpOpen, nonces[3:], boxes[3:]))
	if got := h.read(fd, 1000); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Fatalf("a box sealed under another key: reply %x, want a count of 0", got)
	}
}

// TestHostSecretboxErrors: every malformed request, bad pointer and bad
// descriptor gets its errno, and the context works afterwards.
func TestHostSecretboxErrors(t *testing.T) {
	h := newBoxHarness(t)
	var key [32]byte
	rand.Read(key[:])
	msg, nonce := randomMessages(64), randomNonces(1)
	seal := batchRequest(boxOpSeal, nonce, msg)

	fresh := h.open() // no key yet
	if n, e := h.write(fresh, seal); e != EINVAL {
		t.Errorf("seal before the key: %d, %v; want EINVAL", n, e)
	}
	if n, e := h.write(fresh, boxHeader(boxOpKey, 0, 31)); e != EINVAL {
		t.Errorf("a 31-byte key: %d, %v; want EINVAL", n, e)
	}

	fd := h.open()
	h.mustWrite(fd, keyRequest(&key))
	for _, tc := range []struct {
		name string
		req  []byte
	}{
		{"a second key", keyRequest(&key)},
		{"unknown op", boxHeader(9, 1, 100)},
		{"op 0", boxHeader(0, 0, 0)},
		{"count 0", boxHeader(boxOpSeal, 0, 0)},
		{"count over the bound", boxHeader(boxOpSeal, boxMaxCount+1, (boxMaxCount+1)*boxRecordLength)},
		{"body shorter than the records", boxHeader(boxOpSeal, 2, boxRecordLength)},
		{"body over the bound", boxHeader(boxOpSeal, 1, boxRecordLength+boxMaxBytes+1)},
		{"body_len 2^32-1", boxHeader(boxOpOpen, 1, 1<<32-1)},
		{"lengths do not add up", append(boxHeader(boxOpSeal, 1, boxRecordLength+10), make([]byte, boxRecordLength+10)...)},
		{"a box shorter than its tag", batchRequest(boxOpOpen, nonce, randomMessages(15))},
		{"key op with a count", append(boxHeader(boxOpKey, 1, 32), key[:]...)},
	} {
		if n, e := h.write(fd, tc.req); e != EINVAL {
			t.Errorf("%s: fd_write = %d, %v; want EINVAL", tc.name, n, e)
		}
		if got := h.read(fd, 100); len(got) != 0 {
			t.Errorf("%s: a refused request left a reply of %d bytes", tc.name, len(got))
		}
	}

	// A reply not read yet: the next request is EBUSY.
	h.mustWrite(fd, seal)
	if _, e := h.write(fd, seal); e != EBUSY {
		t.Errorf("a request with a reply pending: %v; want EBUSY", e)
	}
	if got := h.read(fd, 1000); len(got) != 4+64+secretbox.Overhead {
		t.Errorf("the pending reply is %d bytes, want %d", len(got), 4+64+secretbox.Overhead)
	}
	// Bytes past the end of a request are not taken.
	if n, e := h.write(fd, append(bytes.Clone(seal), 1, 2, 3)); e != ESUCCESS || n != len(seal) {
		t.Errorf("a request and 3 more bytes: %d, %v; want %d, ESUCCESS", n, e, len(seal))
	}
	h.read(fd, 1000)

	mem := h.mod.Memory()
	size := mem.Size()
	mem.WriteUint32Le(hbIovec, size-10) // a buffer past the end
	mem.WriteUint32Le(hbIovec+4, 20)
	mem.WriteUint32Le(hbIovec+8, hbData) // a good one
	mem.WriteUint32Le(hbIovec+12, 20)
	for _, tc := range []struct {
		name             string
		fd               int32
		iovs, n, counted uint32
		want             Errno
	}{
		{"iovec past memory", fd, hbIovec, 1, hbCount, EFAULT},
		{"iovec array past memory", fd, size - 4, 1, hbCount, EFAULT},
		{"count past memory", fd, hbIovec, 1, size - 2, EFAULT},
		{"not a descriptor", 77, hbIovec + 8, 1, hbCount, EBADF},
		{"negative descriptor", -1, hbIovec + 8, 1, hbCount, EBADF},
	} {
		for _, op := range []string{"fd_write", "fd_read"} {
			if e := h.call(op, uint64(uint32(tc.fd)), uint64(tc.iovs), uint64(tc.n), uint64(tc.counted)); e != tc.want {
				t.Errorf("%s: %s = %v, want %v", tc.name, op, e, tc.want)
			}
		}
	}

	for _, tc := range []struct {
		name         string
		dir          int32
		path         string
		pathPtr, res uint32
		oflags       uint16
		want         Errno
	}{
		{"no such service", 3, "aead", hbPath, hbResult, 0, ENOENT},
		{"path past memory", 3, "secretbox", size - 4, hbResult, 0, EFAULT},
		{"result past memory", 3, "secretbox", hbPath, size - 2, 0, EFAULT},
		{"not a directory", fd, "secretbox", hbPath, hbResult, 0, ENOTDIR},
		{"not a descriptor", 40, "secretbox", hbPath, hbResult, 0, EBADF},
		{"O_CREAT", 3, "secretbox", hbPath, hbResult, 1, EROFS},
	} {
		if _, e := h.pathOpen(tc.dir, tc.path, tc.pathPtr, tc.res, tc.oflags, rightsReadWrite); e != tc.want {
			t.Errorf("path_open: %s: %v, want %v", tc.name, e, tc.want)
		}
	}

	// After all that the context still seals as x/crypto does.
	h.mustWrite(fd, seal)
	want := secretbox.Seal(binary.LittleEndian.AppendUint32(nil, 1), msg[0], &nonce[0], &key)
	if got := h.read(fd, 1000); !bytes.Equal(got, want) {
		t.Error("after the refused requests the context seals differently")
	}
}

// TestHostSecretboxHostileInput: random bytes, written in random pieces,
// never crash the host and never leave it holding more than a request.
func TestHostSecretboxHostileInput(t *testing.T) {
	h := newBoxHarness(t)
	rng := mrand.New(mrand.NewPCG(1, 2))
	var key [32]byte
	fd := h.open()
	h.mustWrite(fd, keyRequest(&key))
	in := h.ctx.Value(instanceKey{}).(*instance)
	f, _ := in.wasi.Get(fd)
	bf := f.(*serviceFile)
	for i := 0; i < 2000; i++ {
		p := make([]byte, rng.IntN(64))
		for j := range p {
			p[j] = byte(rng.IntN(4)) // small values make plausible headers
		}
		if _, e := h.write(fd, p); e != ESUCCESS && e != EINVAL && e != EBUSY {
			t.Fatalf("fd_write of random bytes = %v", e)
		}
		if rng.IntN(3) == 0 {
			h.read(fd, rng.IntN(200))
		}
		if len(bf.req) > boxHeaderLength+boxMaxCount*boxRecordLength+boxMaxBytes {
			t.Fatalf("the host holds a %d-byte request", len(bf.req))
		}
	}
}

// TestServicesPreopenedForModulesThatCanOpenThem: /water is preopened for
// a module that imports path_open and fd_prestat_get (the shipped obfs4,
// the bad_pointers fixture), not for one that cannot open it (ok_plain
// keeps its fd numbers), and for none on a runtime made WithoutHostCrypto.
func TestServicesPreopenedForModulesThatCanOpenThem(t *testing.T) {
	ctx := context.Background()
	obfs4, _ := modules.Lookup("obfs4")
	okPlain, err := os.ReadFile("testdata/ok_plain.wasm")
	if err != nil {
		t.Fatal(err)
	}
	badPointers, err := os.ReadFile("testdata/bad_pointers.wasm") // imports both
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts []Option
		wasm []byte
		want bool
	}{
		{"obfs4", nil, obfs4, true},
		{"bad_pointers", nil, badPointers, true},
		{"ok_plain", nil, okPlain, false},
		{"bad_pointers WithoutHostCrypto", []Option{WithoutHostCrypto()}, badPointers, false},
	} {
		r, err := NewRuntime(ctx, append(tc.opts, WithTestCache(), WithPoolSize(0))...)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(ctx)
		m, err := r.Load(watmtest.CompileContext(ctx), tc.wasm)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		in, err := newInstance(ctx, m)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		f, e := in.wasi.Get(3)
		d, ok := f.(*wasip1.DirFile)
		got := e == ESUCCESS && ok && d.Name() == servicesDir
		in.release()
		if got != tc.want {
			t.Errorf("%s: fd 3 is /water: %v, want %v", tc.name, got, tc.want)
		}
	}
}
