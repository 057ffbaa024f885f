package watm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"

	"github.com/water-pt/water-pt/watm/internal/spec"
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
// writeWASIInputs adds an iovec at wcIovPath pointing at the path, and
// poll_oneoff's subscriptions at wcSubs; its events go to wcEvents, the
// count just before them (wcNevents).
const (
	wcR       = 0x100
	wcR2      = 0x108
	wcIov     = 0x200
	wcIovPath = 0x210
	wcBuf     = 0x300
	wcPath    = 0x400
	wcSubs    = 0x500
	wcNevents = wcEvents - 4
	wcEvents  = 0x800
	wcBad     = 0xfffffff0
)

// poll_oneoff's layout and values as WASI preview 1 defines them, written
// out here rather than taken from the host, so that the rows check the
// host's: a subscription is 48 bytes (userdata u64, tag u8 @8, clock id or
// fd u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40), an event
// 32 (userdata u64, error u16 @8, type u8 @10, nbytes u64 @16, flags u16
// @24).
const (
	wcSubSize   = 48
	wcEventSize = 32
	wcClock     = 0 // eventtype clock
	wcFdRead    = 1 // eventtype fd_read
	wcFdWrite   = 2 // eventtype fd_write
	wcAbstime   = 1 // subclockflags subscription_clock_abstime
	wcMonotonic = 1 // clockid monotonic
)

// The subscriptions at wcSubs, in this order; the userdata of each is
// 0xa0 plus its index.
const (
	subPast        = iota // clock: absolute monotonic time 0, long past
	subDue                // clock: relative 0, due now
	subHour               // clock: relative 1 h, never fires in a test
	subSoon               // clock: relative 500 us
	subSockRead           // fd_read on wcSock
	subSockWrite          // fd_write on wcSock
	subBadFDRead          // fd_read on wcBadFD
	subConfigRead         // fd_read on wcConfig (always ready)
	subBadTag             // tag 3: no such event type
	subAbsBadClock        // clock id 9, absolute: no such clock
)

// sub is the address of subscription i.
func sub(i int) uint64 { return wcSubs + uint64(i)*wcSubSize }

func writeWASIInputs(mem api.Memory) {
	mem.WriteUint32Le(wcIovPath, wcPath)
	mem.WriteUint32Le(wcIovPath+4, 8)
	for i, s := range []struct {
		tag     uint8
		idOrFD  uint32
		timeout uint64
		flags   uint16
	}{
		subPast:        {wcClock, wcMonotonic, 0, wcAbstime},
		subDue:         {wcClock, wcMonotonic, 0, 0},
		subHour:        {wcClock, wcMonotonic, uint64(time.Hour), 0},
		subSoon:        {wcClock, wcMonotonic, uint64(500 * time.Microsecond), 0},
		subSockRead:    {wcFdRead, wcSock, 0, 0},
		subSockWrite:   {wcFdWrite, wcSock, 0, 0},
		subBadFDRead:   {wcFdRead, wcBadFD, 0, 0},
		subConfigRead:  {wcFdRead, wcConfig, 0, 0},
		subBadTag:      {3, 0, 0, 0},
		subAbsBadClock: {wcClock, 9, 0, wcAbstime},
	} {
		at := uint32(sub(i))
		mem.WriteUint64Le(at, 0xa0+uint64(i))
		mem.WriteByte(at+8, s.tag)
		mem.WriteUint32Le(at+16, s.idOrFD)
		mem.WriteUint64Le(at+24, s.timeout)
		mem.WriteUint16Le(at+40, s.flags)
	}
}

// event is the 32-byte event poll_oneoff writes for subscription i.
func event(i int, errno Errno, typ uint8, nbytes uint64, flags uint16) []byte {
	ev := make([]byte, wcEventSize)
	binary.LittleEndian.PutUint64(ev, 0xa0+uint64(i))
	binary.LittleEndian.PutUint16(ev[8:], uint16(errno))
	ev[10] = typ
	binary.LittleEndian.PutUint64(ev[16:], nbytes)
	binary.LittleEndian.PutUint16(ev[24:], flags)
	return ev
}

// noEvent is an event slot poll_oneoff did not write.
func noEvent() []byte { return make([]byte, wcEventSize) }

// pollOut is the memory at wcNevents after poll_oneoff: nevents, then the
// event slots.
func pollOut(nevents uint32, slots ...[]byte) []byte {
	return append(le32(nevents), bytes.Join(slots, nil)...)
}

type wasiCalls struct {
	t    *testing.T
	mod  api.Module
	in   *instance
	ctx  context.Context // calls into mod go with it
	peer net.Conn        // the other end of wcSock
	run  func(name string, args ...uint64) Errno
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
	writeWASIInputs(mem)
	return &wasiCalls{t: t, mod: mod, in: in, ctx: ctx, peer: peer, run: func(name string, args ...uint64) Errno {
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
		t.Run(r.name, func(t *testing.T) { checkWASIRow(t, newWASICalls(t), r) })
	}
}

// checkWASIRow makes r's call on h and checks its errno and memory.
func checkWASIRow(t *testing.T, h *wasiCalls, r wasiRow) {
	t.Helper()
	if got := h.run(r.fn, r.args...); got != r.want {
		t.Errorf("%s%v = %v, want %v", r.fn, r.args, got, r.want)
	}
	if r.mem != nil {
		got, _ := h.mod.Memory().Read(r.at, uint32(len(r.mem)))
		if !bytes.Equal(got, r.mem) {
			t.Errorf("%s%v: memory at %#x = %x, want %x", r.fn, r.args, r.at, got, r.mem)
		}
	}
}

func TestWASIFunctionsTable(t *testing.T) { runWASIRows(t, wasiRows()) }

// wasiRows are the rows that need no peer and return an errno; rows on the
// socket's peer are in wasiPeerRows, proc_exit's in procExitRows.
func wasiRows() []wasiRow {
	return []wasiRow{
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

		// No arguments and no environment: nothing to write.
		{"args_get", "args_get", []uint64{wcR, wcR2}, ESUCCESS, wcR, untouched(16)},
		{"environ_get", "environ_get", []uint64{wcR, wcR2}, ESUCCESS, wcR, untouched(16)},

		{"clock_res_get realtime", "clock_res_get", []uint64{0, wcR}, ESUCCESS, wcR, le64(1)},
		{"clock_res_get bad pointer", "clock_res_get", []uint64{1, wcBad}, EFAULT, 0, nil},
		{"clock_time_get monotonic", "clock_time_get", []uint64{1, 0, wcR}, ESUCCESS, 0, nil},
		{"clock_time_get bad pointer", "clock_time_get", []uint64{1, 0, wcBad}, EFAULT, 0, nil},
		{"random_get bad buffer", "random_get", []uint64{wcBad, 32}, EFAULT, 0, nil},

		{"fd_advise socket", "fd_advise", []uint64{wcSock, 0, 0, 5}, ESUCCESS, 0, nil},
		{"fd_advise unknown advice", "fd_advise", []uint64{wcConfig, 0, 0, 6}, EINVAL, 0, nil},
		{"fd_advise bad fd", "fd_advise", []uint64{wcBadFD, 0, 0, 0}, EBADF, 0, nil},
		{"fd_allocate bad fd", "fd_allocate", []uint64{wcBadFD, 0, 1}, EBADF, 0, nil},
		{"fd_datasync config", "fd_datasync", []uint64{wcConfig}, EINVAL, 0, nil},
		{"fd_datasync socket", "fd_datasync", []uint64{wcSock}, EINVAL, 0, nil},
		{"fd_datasync bad fd", "fd_datasync", []uint64{wcBadFD}, EBADF, 0, nil},
		{"fd_sync config", "fd_sync", []uint64{wcConfig}, EINVAL, 0, nil},
		{"fd_sync bad fd", "fd_sync", []uint64{wcBadFD}, EBADF, 0, nil},
		{"fd_fdstat_set_rights bad fd", "fd_fdstat_set_rights", []uint64{wcBadFD, 0, 0}, EBADF, 0, nil},
		{"fd_filestat_set_size config", "fd_filestat_set_size", []uint64{wcConfig, 0}, EINVAL, 0, nil},
		{"fd_filestat_set_size bad fd", "fd_filestat_set_size", []uint64{wcBadFD, 0}, EBADF, 0, nil},
		{"fd_filestat_set_times config", "fd_filestat_set_times", []uint64{wcConfig, 0, 0, 0}, ENOTSUP, 0, nil},
		{"fd_filestat_set_times bad fd", "fd_filestat_set_times", []uint64{wcBadFD, 0, 0, 0}, EBADF, 0, nil},
		{"fd_pread nread", "fd_pread", []uint64{wcConfig, wcIov, 1, 8, wcR}, ESUCCESS, wcR, le32(2)},
		{"fd_pread past the end", "fd_pread", []uint64{wcConfig, wcIov, 1, 20, wcR}, ESUCCESS, wcR, le32(0)},
		{"fd_pread socket", "fd_pread", []uint64{wcSock, wcIov, 1, 0, wcR}, ESPIPE, wcR, untouched(4)},
		{"fd_pread bad fd", "fd_pread", []uint64{wcBadFD, wcIov, 1, 0, wcR}, EBADF, 0, nil},
		{"fd_pwrite config", "fd_pwrite", []uint64{wcConfig, wcIov, 1, 0, wcR}, EBADF, wcR, untouched(4)},
		{"fd_pwrite socket", "fd_pwrite", []uint64{wcSock, wcIov, 1, 0, wcR}, ESPIPE, wcR, untouched(4)},
		{"fd_pwrite bad fd", "fd_pwrite", []uint64{wcBadFD, wcIov, 1, 0, wcR}, EBADF, 0, nil},
		{"fd_readdir conf", "fd_readdir", []uint64{wcConf, wcBuf, 64, 0, wcR}, ENOTSUP, wcR, untouched(4)},
		{"fd_readdir bufused high in memory", "fd_readdir", []uint64{wcConf, wcBuf, 64, 0, 0x9000}, ENOTSUP, 0, nil},
		{"fd_readdir bufused past memory", "fd_readdir", []uint64{wcConf, wcBuf, 64, 0, 0xfffe}, EFAULT, 0, nil},
		{"fd_readdir buffer past memory", "fd_readdir", []uint64{wcConf, 0xfff0, 64, 0, wcR}, EFAULT, 0, nil},
		{"fd_readdir config", "fd_readdir", []uint64{wcConfig, wcBuf, 64, 0, wcR}, ENOTDIR, 0, nil},
		{"fd_readdir bad fd", "fd_readdir", []uint64{wcBadFD, wcBuf, 64, 0, wcR}, EBADF, 0, nil},
		{"fd_renumber bad fd", "fd_renumber", []uint64{wcBadFD, wcConfig}, EBADF, 0, nil},
		{"fd_tell socket", "fd_tell", []uint64{wcSock, wcR}, ESPIPE, wcR, untouched(8)},
		{"fd_tell bad fd", "fd_tell", []uint64{wcBadFD, wcR}, EBADF, wcR, untouched(8)},

		{"path_create_directory", "path_create_directory", []uint64{wcConf, wcPath, 3}, EROFS, 0, nil},
		{"path_create_directory in a file", "path_create_directory", []uint64{wcConfig, wcPath, 3}, ENOTDIR, 0, nil},
		{"path_create_directory bad fd", "path_create_directory", []uint64{wcBadFD, wcPath, 3}, EBADF, 0, nil},
		{"path_create_directory path past memory", "path_create_directory", []uint64{wcConf, wcBad, 3}, EFAULT, 0, nil},
		{"path_filestat_get watm.cfg", "path_filestat_get", []uint64{wcConf, 0, wcPath, 8, wcR}, ESUCCESS, wcR + 16,
			append(append([]byte{filetypeRegularFile, 0, 0, 0, 0, 0, 0, 0}, le64(1)...), le64(10)...)},
		{"path_filestat_get empty path", "path_filestat_get", []uint64{wcConf, 0, wcPath, 0, wcR}, ESUCCESS, wcR + 16, []byte{filetypeDirectory}},
		{"path_filestat_get no such", "path_filestat_get", []uint64{wcConf, 0, wcPath, 4, wcR}, ENOENT, 0, nil},
		{"path_filestat_get in a file", "path_filestat_get", []uint64{wcConfig, 0, wcPath, 8, wcR}, ENOTDIR, wcR, untouched(64)},
		{"path_filestat_get bad fd", "path_filestat_get", []uint64{wcBadFD, 0, wcPath, 8, wcR}, EBADF, wcR, untouched(64)},
		{"path_filestat_get result past memory", "path_filestat_get", []uint64{wcConf, 0, wcPath, 8, 0xffc0 + 1}, EFAULT, 0, nil},
		{"path_filestat_set_times", "path_filestat_set_times", []uint64{wcConf, 0, wcPath, 8, 0, 0, 0}, EROFS, 0, nil},
		{"path_filestat_set_times bad fd", "path_filestat_set_times", []uint64{wcBadFD, 0, wcPath, 8, 0, 0, 0}, EBADF, 0, nil},
		{"path_link", "path_link", []uint64{wcConf, 0, wcPath, 8, wcConf, wcPath, 4}, EROFS, 0, nil},
		{"path_link new path past memory", "path_link", []uint64{wcConf, 0, wcPath, 8, wcConf, wcBad, 4}, EFAULT, 0, nil},
		{"path_link in a file", "path_link", []uint64{wcConfig, 0, wcPath, 8, wcConf, wcPath, 4}, ENOTDIR, 0, nil},
		{"path_link new fd bad", "path_link", []uint64{wcConf, 0, wcPath, 8, wcBadFD, wcPath, 4}, EBADF, 0, nil},
		{"path_link new fd a file", "path_link", []uint64{wcConf, 0, wcPath, 8, wcConfig, wcPath, 4}, ENOTDIR, 0, nil},
		{"path_readlink not a link", "path_readlink", []uint64{wcConf, wcPath, 8, wcBuf, 4, wcR}, EINVAL, wcR, untouched(4)},
		{"path_readlink no such", "path_readlink", []uint64{wcConf, wcPath, 4, wcBuf, 4, wcR}, ENOENT, 0, nil},
		{"path_readlink in a file", "path_readlink", []uint64{wcConfig, wcPath, 8, wcBuf, 4, wcR}, ENOTDIR, 0, nil},
		{"path_readlink buffer past memory", "path_readlink", []uint64{wcConf, wcPath, 8, wcBad, 4, wcR}, EFAULT, 0, nil},
		{"path_remove_directory", "path_remove_directory", []uint64{wcConf, wcPath, 8}, EROFS, 0, nil},
		{"path_remove_directory bad fd", "path_remove_directory", []uint64{wcBadFD, wcPath, 8}, EBADF, 0, nil},
		{"path_rename", "path_rename", []uint64{wcConf, wcPath, 8, wcConf, wcPath, 4}, EROFS, 0, nil},
		{"path_rename old path past memory", "path_rename", []uint64{wcConf, wcBad, 8, wcConf, wcPath, 4}, EFAULT, 0, nil},
		{"path_rename bad fd", "path_rename", []uint64{wcBadFD, wcPath, 8, wcConf, wcPath, 4}, EBADF, 0, nil},
		{"path_rename new fd bad", "path_rename", []uint64{wcConf, wcPath, 8, wcBadFD, wcPath, 4}, EBADF, 0, nil},
		{"path_rename new fd a socket", "path_rename", []uint64{wcConf, wcPath, 8, wcSock, wcPath, 4}, ENOTDIR, 0, nil},
		{"path_symlink", "path_symlink", []uint64{wcPath, 8, wcConf, wcPath, 4}, EROFS, 0, nil},
		{"path_symlink in a file", "path_symlink", []uint64{wcPath, 8, wcConfig, wcPath, 4}, ENOTDIR, 0, nil},
		{"path_symlink bad fd", "path_symlink", []uint64{wcPath, 8, wcBadFD, wcPath, 4}, EBADF, 0, nil},
		{"path_symlink old path past memory", "path_symlink", []uint64{wcBad, 8, wcConf, wcPath, 4}, EFAULT, 0, nil},
		{"path_unlink_file", "path_unlink_file", []uint64{wcConf, wcPath, 8}, EROFS, 0, nil},
		{"path_unlink_file on a socket", "path_unlink_file", []uint64{wcSock, wcPath, 8}, ENOTDIR, 0, nil},

		// poll_oneoff over the subscriptions writeWASIInputs puts at wcSubs;
		// nevents is stored just before the events, so that one memory check
		// covers both, and an event slot left at zero was not written.
		{"poll_oneoff one clock due now", "poll_oneoff", []uint64{sub(subDue), wcEvents, 1, wcNevents}, ESUCCESS, wcNevents,
			pollOut(1, event(subDue, ESUCCESS, wcClock, 0, 0))},
		{"poll_oneoff clocks by deadline: two of three", "poll_oneoff", []uint64{sub(subPast), wcEvents, 3, wcNevents}, ESUCCESS, wcNevents,
			pollOut(2, event(subPast, ESUCCESS, wcClock, 0, 0), event(subDue, ESUCCESS, wcClock, 0, 0), noEvent())},
		{"poll_oneoff clocks by deadline: due now, not in an hour", "poll_oneoff", []uint64{sub(subDue), wcEvents, 2, wcNevents}, ESUCCESS, wcNevents,
			pollOut(1, event(subDue, ESUCCESS, wcClock, 0, 0), noEvent())},
		{"poll_oneoff clocks by deadline: waits 500 us, not an hour", "poll_oneoff", []uint64{sub(subHour), wcEvents, 2, wcNevents}, ESUCCESS, wcNevents,
			pollOut(1, event(subSoon, ESUCCESS, wcClock, 0, 0), noEvent())},
		{"poll_oneoff socket read with nothing sent: the clock only", "poll_oneoff", []uint64{sub(subSoon), wcEvents, 2, wcNevents}, ESUCCESS, wcNevents,
			pollOut(1, event(subSoon, ESUCCESS, wcClock, 0, 0), noEvent())},
		{"poll_oneoff socket write", "poll_oneoff", []uint64{sub(subSockWrite), wcEvents, 1, wcNevents}, ESUCCESS, wcNevents,
			pollOut(1, event(subSockWrite, ESUCCESS, wcFdWrite, 1, 0))},
		{"poll_oneoff read on a bad fd", "poll_oneoff", []uint64{sub(subBadFDRead), wcEvents, 1, wcNevents}, ESUCCESS, wcNevents,
			pollOut(1, event(subBadFDRead, EBADF, wcFdRead, 0, 0))},
		{"poll_oneoff read on the config", "poll_oneoff", []uint64{sub(subConfigRead), wcEvents, 1, wcNevents}, ESUCCESS, wcNevents,
			pollOut(1, event(subConfigRead, ESUCCESS, wcFdRead, 1, 0))},
		{"poll_oneoff unknown tag", "poll_oneoff", []uint64{sub(subBadTag), wcEvents, 1, wcNevents}, ESUCCESS, wcNevents,
			pollOut(1, event(subBadTag, EINVAL, 3, 0, 0))},
		{"poll_oneoff absolute time on an unknown clock", "poll_oneoff", []uint64{sub(subAbsBadClock), wcEvents, 1, wcNevents}, ESUCCESS, wcNevents,
			pollOut(1, event(subAbsBadClock, EINVAL, wcClock, 0, 0))},
		{"poll_oneoff nsubscriptions 0", "poll_oneoff", []uint64{sub(subDue), wcEvents, 0, wcR}, EINVAL, wcR, untouched(4)},
		{"poll_oneoff over the host's 1024 subscriptions", "poll_oneoff", []uint64{0, 0, 1025, wcR}, ENOTSUP, wcR, untouched(4)},
		{"poll_oneoff subscriptions past memory", "poll_oneoff", []uint64{0x10000 - wcSubSize + 8, wcEvents, 1, wcR}, EFAULT, wcR, untouched(4)},
		{"poll_oneoff subscriptions wrap around", "poll_oneoff", []uint64{wcBad, wcEvents, 1, wcR}, EFAULT, wcR, untouched(4)},
		{"poll_oneoff events past memory", "poll_oneoff", []uint64{sub(subDue), 0x10000 - wcEventSize + 8, 1, wcR}, EFAULT, wcR, untouched(4)},
		{"poll_oneoff nevents past memory", "poll_oneoff", []uint64{sub(subDue), wcEvents, 1, wcBad}, EFAULT, wcEvents, noEvent()},

		{"proc_raise", "proc_raise", []uint64{9}, ENOSYS, 0, nil},

		// sock_accept: a WATM gets connections through host_accept.
		{"sock_accept socket", "sock_accept", []uint64{wcSock, 0, wcR}, ENOTSUP, wcR, untouched(4)},
		{"sock_accept file", "sock_accept", []uint64{wcConfig, 0, wcR}, ENOTSOCK, wcR, untouched(4)},
		{"sock_accept bad fd", "sock_accept", []uint64{wcBadFD, 0, wcR}, EBADF, 0, nil},
		{"sock_accept result past memory", "sock_accept", []uint64{wcSock, 0, wcBad}, EFAULT, 0, nil},
		{"sock_recv RECV_PEEK", "sock_recv", []uint64{wcSock, wcIov, 1, 1, wcR, wcR2}, ENOTSUP, wcR, untouched(16)},
		{"sock_recv file", "sock_recv", []uint64{wcConfig, wcIov, 1, 0, wcR, wcR2}, ENOTSOCK, wcR, untouched(16)},
		{"sock_recv bad fd", "sock_recv", []uint64{wcBadFD, wcIov, 1, 0, wcR, wcR2}, EBADF, 0, nil},
		{"sock_recv ro_flags past memory", "sock_recv", []uint64{wcSock, wcIov, 1, 0, wcR, 0xffff}, EFAULT, wcR, untouched(4)},
		{"sock_send si_flags", "sock_send", []uint64{wcSock, wcIovPath, 1, 1, wcR}, ENOTSUP, wcR, untouched(4)},
		{"sock_send file", "sock_send", []uint64{wcConfig, wcIovPath, 1, 0, wcR}, ENOTSOCK, wcR, untouched(4)},
		{"sock_send bad fd", "sock_send", []uint64{wcBadFD, wcIovPath, 1, 0, wcR}, EBADF, 0, nil},
		{"sock_send iovec past memory", "sock_send", []uint64{wcSock, 0xfffc, 1, 0, wcR}, EFAULT, wcR, untouched(4)},
		{"sock_shutdown rd", "sock_shutdown", []uint64{wcSock, 1}, ESUCCESS, 0, nil},
		{"sock_shutdown rdwr", "sock_shutdown", []uint64{wcSock, 3}, ESUCCESS, 0, nil},
	}
}

// wasiPeerRow is a wasiRow whose call needs wcSock's peer: the peer first
// sends send (the call is made once it is readable on wcSock), and after
// the call must have received recv.
type wasiPeerRow struct {
	wasiRow
	send, recv []byte
}

func wasiPeerRows() []wasiPeerRow {
	abcd := []byte("abcd")
	return []wasiPeerRow{
		{wasiRow{"sock_recv data", "sock_recv", []uint64{wcSock, wcIov, 1, 0, wcR, wcR2}, ESUCCESS, wcBuf, abcd}, abcd, nil},
		{wasiRow{"sock_recv ro_datalen and ro_flags", "sock_recv", []uint64{wcSock, wcIov, 1, 0, wcR, wcR2}, ESUCCESS, wcR,
			append(append(le32(4), untouched(4)...), 0, 0)}, abcd, nil},
		{wasiRow{"sock_recv what is there", "sock_recv", []uint64{wcSock, wcIov, 1, 0, wcR, wcR2}, ESUCCESS, wcR, le32(2)}, abcd[:2], nil},
		{wasiRow{"fd_read socket", "fd_read", []uint64{wcSock, wcIov, 1, wcR}, ESUCCESS, wcBuf, abcd}, abcd, nil},
		{wasiRow{"sock_send", "sock_send", []uint64{wcSock, wcIovPath, 1, 0, wcR}, ESUCCESS, wcR, le32(8)}, nil, []byte("watm.cfg")},
		{wasiRow{"fd_write socket", "fd_write", []uint64{wcSock, wcIovPath, 1, wcR}, ESUCCESS, wcR, le32(8)}, nil, []byte("watm.cfg")},
		{wasiRow{"poll_oneoff socket read after the peer sent", "poll_oneoff", []uint64{sub(subSockRead), wcEvents, 1, wcNevents}, ESUCCESS, wcNevents,
			pollOut(1, event(subSockRead, ESUCCESS, wcFdRead, 1, 0))}, abcd, nil},
	}
}

func TestWASIPeerTable(t *testing.T) {
	for _, r := range wasiPeerRows() {
		t.Run(r.name, func(t *testing.T) {
			h := newWASICalls(t)
			if len(r.send) > 0 {
				if _, err := h.peer.Write(r.send); err != nil {
					t.Fatal(err)
				}
				waitReadable(t, h)
			}
			checkWASIRow(t, h, r.wasiRow)
			if r.recv != nil {
				got := make([]byte, len(r.recv))
				h.peer.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(h.peer, got); err != nil || !bytes.Equal(got, r.recv) {
					t.Errorf("the peer received %q (%v), want %q", got, err, r.recv)
				}
			}
		})
	}
}

// waitReadable waits until wcSock has bytes to read.
func waitReadable(t *testing.T, h *wasiCalls) {
	t.Helper()
	f, e := h.in.wasi.Get(wcSock)
	if e != ESUCCESS {
		t.Fatal(e)
	}
	fds := []unix.PollFd{{Fd: int32(f.Pollfd()), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 10_000)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n != 1 {
			t.Fatalf("wcSock not readable within 10 s after the peer sent (%d, %v)", n, err)
		}
		return
	}
}

// procExitRows are proc_exit's rows: it returns no errno; the call ends
// with an exit error carrying rval, which the instance records.
func procExitRows() []struct {
	name string
	rval uint32
} {
	return []struct {
		name string
		rval uint32
	}{{"proc_exit 0", 0}, {"proc_exit 3", 3}, {"proc_exit max", 0xffffffff}}
}

func TestWASIProcExit(t *testing.T) {
	for _, r := range procExitRows() {
		t.Run(r.name, func(t *testing.T) {
			h := newWASICalls(t)
			_, err := h.mod.ExportedFunction("proc_exit").Call(h.ctx, uint64(r.rval))
			var exit *sys.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != r.rval {
				t.Errorf("proc_exit(%d) = %v, want an exit error with code %d", r.rval, err, r.rval)
			}
			if got := h.in.wasi.ExitCode(); got != int64(r.rval) {
				t.Errorf("proc_exit(%d): the instance's exit code is %d", r.rval, got)
			}
		})
	}
}

// TestWASIEveryFunctionHasARow fails when a function of WASI preview 1
// has no table row of its own, or a row names a function that is not one.
func TestWASIEveryFunctionHasARow(t *testing.T) {
	rows := map[string]int{}
	for _, r := range wasiRows() {
		rows[r.fn]++
	}
	for _, r := range wasiPeerRows() {
		rows[r.fn]++
	}
	rows["proc_exit"] += len(procExitRows())
	names := map[string]bool{}
	for _, fn := range spec.Preview1Functions() {
		names[fn] = true
		if rows[fn] == 0 {
			t.Errorf("%s has no row in wasi_table_test.go", fn)
		}
	}
	for fn := range rows {
		if !names[fn] {
			t.Errorf("a row calls %s, which is not a WASI preview 1 function", fn)
		}
	}
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
		{"fd_pread", func(fd, p uint64) []uint64 { return []uint64{fd, wcIov, 1, 0, p} }},
		{"fd_pwrite", func(fd, p uint64) []uint64 { return []uint64{fd, wcIov, 1, 0, p} }},
		{"fd_prestat_dir_name", func(fd, p uint64) []uint64 { return []uint64{fd, p, 5} }},
		{"fd_readdir", func(fd, p uint64) []uint64 { return []uint64{fd, wcBuf, 64, 0, p} }},
		{"path_create_directory", func(fd, p uint64) []uint64 { return []uint64{fd, p, 8} }},
		{"path_filestat_get", func(fd, p uint64) []uint64 { return []uint64{fd, 0, wcPath, 8, p} }},
		{"path_filestat_set_times", func(fd, p uint64) []uint64 { return []uint64{fd, 0, p, 8, 0, 0, 0} }},
		{"path_link", func(fd, p uint64) []uint64 { return []uint64{fd, 0, wcPath, 8, wcConf, p, 4} }},
		{"path_readlink", func(fd, p uint64) []uint64 { return []uint64{fd, wcPath, 8, wcBuf, 4, p} }},
		{"path_remove_directory", func(fd, p uint64) []uint64 { return []uint64{fd, p, 8} }},
		{"path_rename", func(fd, p uint64) []uint64 { return []uint64{fd, wcPath, 8, wcConf, p, 4} }},
		{"path_symlink", func(fd, p uint64) []uint64 { return []uint64{wcPath, 8, fd, p, 4} }},
		{"path_unlink_file", func(fd, p uint64) []uint64 { return []uint64{fd, p, 8} }},
		{"sock_accept", func(fd, p uint64) []uint64 { return []uint64{fd, 0, p} }},
		{"sock_recv", func(fd, p uint64) []uint64 { return []uint64{fd, wcIov, 1, 0, wcR, p} }},
		{"sock_send", func(fd, p uint64) []uint64 { return []uint64{fd, wcIov, 1, 0, p} }},
	} {
		own := uint64(wcConfig) // a descriptor the call accepts
		switch {
		case strings.HasPrefix(c.fn, "sock_"):
			own = wcSock
		case strings.HasPrefix(c.fn, "path_") || c.fn == "fd_prestat_get" || c.fn == "fd_prestat_dir_name" || c.fn == "fd_readdir":
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
