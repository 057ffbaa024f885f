package watm

import "github.com/water-pt/water-pt/watm/internal/wasip1"

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
