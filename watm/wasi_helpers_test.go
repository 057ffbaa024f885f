package watm

import (
	"log/slog"
	"testing"

	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// The tests of package watm name errnos as the host functions do (the
// rows of wasi_table_test.go among them).
type Errno = wasip1.Errno

const (
	ESUCCESS     = wasip1.ESUCCESS
	EACCES       = wasip1.EACCES
	EADDRINUSE   = wasip1.EADDRINUSE
	EAGAIN       = wasip1.EAGAIN
	EBADF        = wasip1.EBADF
	EBUSY        = wasip1.EBUSY
	ECANCELED    = wasip1.ECANCELED
	ECONNABORTED = wasip1.ECONNABORTED
	ECONNREFUSED = wasip1.ECONNREFUSED
	ECONNRESET   = wasip1.ECONNRESET
	EFAULT       = wasip1.EFAULT
	EHOSTUNREACH = wasip1.EHOSTUNREACH
	EINTR        = wasip1.EINTR
	EINVAL       = wasip1.EINVAL
	EIO          = wasip1.EIO
	EISDIR       = wasip1.EISDIR
	EMFILE       = wasip1.EMFILE
	ENAMETOOLONG = wasip1.ENAMETOOLONG
	ENETDOWN     = wasip1.ENETDOWN
	ENETUNREACH  = wasip1.ENETUNREACH
	ENOENT       = wasip1.ENOENT
	ENOMEM       = wasip1.ENOMEM
	ENOSYS       = wasip1.ENOSYS
	ENOTCONN     = wasip1.ENOTCONN
	ENOTDIR      = wasip1.ENOTDIR
	ENOTSOCK     = wasip1.ENOTSOCK
	ENOTSUP      = wasip1.ENOTSUP
	EPERM        = wasip1.EPERM
	EPIPE        = wasip1.EPIPE
	EROFS        = wasip1.EROFS
	ESPIPE       = wasip1.ESPIPE
	ETIMEDOUT    = wasip1.ETIMEDOUT
	ENOTCAPABLE  = wasip1.ENOTCAPABLE
)

// WASI preview-1 values the rows write into memory or expect there
// (wasi_snapshot_preview1's whence and filetype), written here again so
// that a test does not take them from the code it checks.
const (
	whenceSet = 0
	whenceEnd = 2

	filetypeDirectory    = 3
	filetypeRegularFile  = 4
	filetypeSocketStream = 6
)

// testInstance is an instance of m, for calling host functions directly
// (through harness): its WASI Context has stdio and nothing else.
func testInstance(t *testing.T, m *Module) *instance {
	t.Helper()
	h, err := wasip1.NewHost(DefaultMaxFDs, DefaultGrace)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{m: m, wasi: wasip1.NewContext(h, slog.New(slog.DiscardHandler))}
	t.Cleanup(func() {
		in.wasi.Release()
		h.Close()
	})
	return in
}
