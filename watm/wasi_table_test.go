package watm

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// Per-function tests of the host's WASI, called through
// testdata/wasi_calls.wasm (each export passes its arguments to the WASI
// function of the same name) on an instance holding:
const (
	wcConfig = 3  // a config file, memFile "0123456789" (v0's pull_config)
	wcConf   = 4  // the preopened directory /conf holding watm.cfg (v1)
	wcSock   = 5  // one end of a loopback TCP connection
	wcBadFD  = 77 // not open
)

// Memory: results at wcR (and wcR2), an iovec at wcIov pointing at wcBuf,
// a path at wcPath; wcBad is outside memory (wcBad+16 wraps to 0).
const (
	wcR    = 0x100
	wcR2   = 0x108
	wcIov  = 0x200
	wcBuf  = 0x300
	wcPath = 0x400
	wcBad  = 0xfffffff0
)

type wasiCalls struct {
	t   *testing.T
	mod api.Module
	in  *instance
	run func(name string, args ...uint64) Errno
}

func newWASICalls(t *testing.T) *wasiCalls {
	t.Helper()
	in := testInstance(t, &Module{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	sock, err := wasip1.NewSockFile(c)
	if err != nil {
		t.Fatal(err)
	}
	conf := wasip1.NewDir("/conf", nil)
	conf.SetFile("watm.cfg", []byte("0123456789"))
	for want, f := range []wasip1.File{wasip1.NewMemFile([]byte("0123456789")), conf, sock} {
		if fd, e := in.wasi.Insert(f); e != ESUCCESS || fd != int32(want+wcConfig) {
			t.Fatalf("fd %d, %v; want %d", fd, e, want+wcConfig)
		}
	}
	t.Cleanup(func() { _ = sock.Close() })
	mod, ctx := harness(t, "testdata/wasi_calls.wasm", in)
	mem := mod.Memory()
	mem.Write(wcR, bytes.Repeat([]byte{0xff}, 64)) // so that "not written" shows
	mem.WriteUint32Le(wcIov, wcBuf)
	mem.WriteUint32Le(wcIov+4, 4)
	mem.Write(wcPath, []byte("watm.cfg"))
	return &wasiCalls{t: t, mod: mod, in: in, run: func(name string, args ...uint64) Errno {
		t.Helper()
		res, err := mod.ExportedFunction(name).Call(ctx, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return Errno(res[0])
	}}
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func neg(v int64) uint64   { return uint64(v) }

// untouched is n bytes of the 0xff the result slots start with.
func untouched(n int) []byte { return bytes.Repeat([]byte{0xff}, n) }

type wasiRow struct {
	name string
	fn   string
	args []uint64
	want Errno
	at   uint32 // where want memory starts
	mem  []byte // nil: memory not checked
}

func runWASIRows(t *testing.T, rows []wasiRow) {
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			h := newWASICalls(t)
			if got := h.run(r.fn, r.args...); got != r.want {
				t.Errorf("%s%v = %v, want %v", r.fn, r.args, got, r.want)
			}
			if r.mem != nil {
				got, _ := h.mod.Memory().Read(r.at, uint32(len(r.mem)))
				if !bytes.Equal(got, r.mem) {
					t.Errorf("%s%v: memory at %#x = %x, want %x", r.fn, r.args, r.at, got, r.mem)
				}
			}
		})
	}
}

func TestWASIFunctionsTable(t *testing.T) {
	runWASIRows(t, []wasiRow{
		{"fd_seek set", "fd_seek", []uint64{wcConfig, 4, whenceSet, wcR}, ESUCCESS, wcR, le64(4)},
		{"fd_seek end", "fd_seek", []uint64{wcConfig, neg(-3), whenceEnd, wcR}, ESUCCESS, wcR, le64(7)},
		{"fd_seek before start", "fd_seek", []uint64{wcConfig, neg(-1), whenceSet, wcR}, EINVAL, wcR, untouched(8)},
		{"fd_seek bad whence", "fd_seek", []uint64{wcConfig, 0, 3, wcR}, EINVAL, wcR, untouched(8)},
		{"fd_seek socket", "fd_seek", []uint64{wcSock, 0, whenceSet, wcR}, ESPIPE, 0, nil},
		{"fd_seek dir", "fd_seek", []uint64{wcConf, 0, whenceSet, wcR}, ESPIPE, 0, nil},
		{"fd_tell", "fd_tell", []uint64{wcConfig, wcR}, ESUCCESS, wcR, le64(0)},
		{"fd_fdstat_get config", "fd_fdstat_get", []uint64{wcConfig, wcR}, ESUCCESS, wcR, []byte{filetypeRegularFile}},
		{"fd_fdstat_get socket", "fd_fdstat_get", []uint64{wcSock, wcR}, ESUCCESS, wcR, []byte{filetypeSocketStream}},
		{"fd_fdstat_set_flags nonblock", "fd_fdstat_set_flags", []uint64{wcSock, 4}, ESUCCESS, 0, nil},
		{"fd_fdstat_set_flags unknown bit", "fd_fdstat_set_flags", []uint64{wcSock, 0x20}, EINVAL, 0, nil},
		{"fd_fdstat_set_flags bad fd", "fd_fdstat_set_flags", []uint64{wcBadFD, 4}, EBADF, 0, nil},
		{"fd_fdstat_set_flags bad fd and bit", "fd_fdstat_set_flags", []uint64{wcBadFD, 0x20}, EINVAL, 0, nil},
		{"fd_filestat_get config size", "fd_filestat_get", []uint64{wcConfig, wcR}, ESUCCESS, wcR + 32, le64(10)},
		{"fd_prestat_get conf", "fd_prestat_get", []uint64{wcConf, wcR}, ESUCCESS, wcR, append(le32(0), le32(5)...)},
		{"fd_prestat_get file", "fd_prestat_get", []uint64{wcConfig, wcR}, EBADF, 0, nil},
		{"fd_prestat_dir_name", "fd_prestat_dir_name", []uint64{wcConf, wcR, 5}, ESUCCESS, wcR, []byte("/conf")},
		{"fd_prestat_dir_name short", "fd_prestat_dir_name", []uint64{wcConf, wcR, 2}, ENAMETOOLONG, 0, nil},
		{"fd_read config", "fd_read", []uint64{wcConfig, wcIov, 1, wcR}, ESUCCESS, wcBuf, []byte("0123")},
		{"fd_pread config", "fd_pread", []uint64{wcConfig, wcIov, 1, 6, wcR}, ESUCCESS, wcBuf, []byte("6789")},
		{"fd_write config", "fd_write", []uint64{wcConfig, wcIov, 1, wcR}, EBADF, wcR, untouched(4)},
		{"path_open watm.cfg", "path_open", []uint64{wcConf, 0, wcPath, 8, 0, 2, 0, 0, wcR}, ESUCCESS, wcR, le32(6)},
		{"path_open O_CREAT", "path_open", []uint64{wcConf, 0, wcPath, 8, 1, 2, 0, 0, wcR}, EROFS, 0, nil},
		{"path_open O_DIRECTORY", "path_open", []uint64{wcConf, 0, wcPath, 8, 2, 2, 0, 0, wcR}, ENOTDIR, 0, nil},
		{"path_open O_EXCL", "path_open", []uint64{wcConf, 0, wcPath, 8, 4, 2, 0, 0, wcR}, EROFS, 0, nil},
		{"path_open O_TRUNC", "path_open", []uint64{wcConf, 0, wcPath, 8, 8, 2, 0, 0, wcR}, EROFS, 0, nil},
		{"path_open no such", "path_open", []uint64{wcConf, 0, wcPath, 4, 0, 2, 0, 0, wcR}, ENOENT, 0, nil},
		{"path_open on a socket", "path_open", []uint64{wcSock, 0, wcPath, 8, 0, 2, 0, 0, wcR}, ENOTDIR, 0, nil},
		{"path_open write rights", "path_open", []uint64{wcConf, 0, wcPath, 8, 0, 1 << 6, 0, 0, wcR}, EROFS, 0, nil},
		{"sock_shutdown wr", "sock_shutdown", []uint64{wcSock, 2}, ESUCCESS, 0, nil},
		{"sock_shutdown none", "sock_shutdown", []uint64{wcSock, 0}, EINVAL, 0, nil},
		{"sock_shutdown unknown", "sock_shutdown", []uint64{wcSock, 4}, EINVAL, 0, nil},
		{"sock_shutdown file", "sock_shutdown", []uint64{wcConfig, 2}, ENOTSOCK, 0, nil},
		{"sock_shutdown bad fd", "sock_shutdown", []uint64{wcBadFD, 2}, EBADF, 0, nil},
		{"fd_close", "fd_close", []uint64{wcConfig}, ESUCCESS, 0, nil},
		{"fd_close bad fd", "fd_close", []uint64{wcBadFD}, EBADF, 0, nil},
		{"fd_renumber", "fd_renumber", []uint64{wcConfig, wcConf}, ENOTSUP, 0, nil},
		{"fd_advise", "fd_advise", []uint64{wcConfig, 0, 0, 0}, ESUCCESS, 0, nil},
		{"fd_allocate", "fd_allocate", []uint64{wcConfig, 0, 1}, ENOTSUP, 0, nil},
		{"fd_fdstat_set_rights", "fd_fdstat_set_rights", []uint64{wcConfig, 0, 0}, ENOTSUP, 0, nil},
		{"clock_res_get monotonic", "clock_res_get", []uint64{1, wcR}, ESUCCESS, 0, nil},
		{"clock_res_get unknown", "clock_res_get", []uint64{9, wcR}, EINVAL, 0, nil},
		{"clock_time_get unknown", "clock_time_get", []uint64{9, 0, wcR}, EINVAL, 0, nil},
		{"random_get", "random_get", []uint64{wcR, 16}, ESUCCESS, 0, nil},
		{"sched_yield", "sched_yield", nil, ESUCCESS, 0, nil},
		{"args_sizes_get", "args_sizes_get", []uint64{wcR, wcR2}, ESUCCESS, wcR, append(append(le32(0), 0xff, 0xff, 0xff, 0xff), le32(0)...)},
		{"environ_sizes_get", "environ_sizes_get", []uint64{wcR, wcR2}, ESUCCESS, wcR, append(append(le32(0), untouched(4)...), le32(0)...)},
	})
}

// TestWASIErrnoOrder settles, in one place, which errno a call with both a
// bad pointer and a bad descriptor gets: pointers are checked first
// (EFAULT), then the descriptor (EBADF), as doc.go and RATIONALE.md say.
func TestWASIErrnoOrder(t *testing.T) {
	type call struct {
		fn   string
		args func(fd uint64, ptr uint64) []uint64
	}
	for _, c := range []call{
		{"fd_fdstat_get", func(fd, p uint64) []uint64 { return []uint64{fd, p} }},
		{"fd_filestat_get", func(fd, p uint64) []uint64 { return []uint64{fd, p} }},
		{"fd_seek", func(fd, p uint64) []uint64 { return []uint64{fd, 0, whenceSet, p} }},
		{"fd_tell", func(fd, p uint64) []uint64 { return []uint64{fd, p} }},
		{"fd_read", func(fd, p uint64) []uint64 { return []uint64{fd, wcIov, 1, p} }},
		{"fd_write", func(fd, p uint64) []uint64 { return []uint64{fd, wcIov, 1, p} }},
		{"fd_prestat_get", func(fd, p uint64) []uint64 { return []uint64{fd, p} }},
		{"path_open", func(fd, p uint64) []uint64 { return []uint64{fd, 0, wcPath, 8, 0, 2, 0, 0, p} }},
	} {
		own := uint64(wcConfig)
		if c.fn == "fd_prestat_get" || c.fn == "path_open" {
			own = wcConf
		}
		for _, tc := range []struct {
			fd, ptr uint64
			want    Errno
		}{
			{own, wcBad, EFAULT},
			{wcBadFD, wcBad, EFAULT},
			{wcBadFD, wcR, EBADF},
		} {
			h := newWASICalls(t)
			if got := h.run(c.fn, c.args(tc.fd, tc.ptr)...); got != tc.want {
				t.Errorf("%s(fd %d, pointer %#x) = %v, want %v", c.fn, tc.fd, tc.ptr, got, tc.want)
			}
		}
	}
}
