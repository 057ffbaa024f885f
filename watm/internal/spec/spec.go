// Package spec holds what the host (package watm), the guest (watm/guest)
// and their tests share, written once: WASI preview 1's numbers and names,
// the WATER v0 and v1 tables (water.go). It imports nothing, so that any of
// them, including a module compiled for wasip1, can use it.
package spec

// The errno values of WASI preview 1 (the errno enum of
// wasi_snapshot_preview1), in their ABI numbering.
const (
	ESUCCESS        = 0
	E2BIG           = 1
	EACCES          = 2
	EADDRINUSE      = 3
	EADDRNOTAVAIL   = 4
	EAFNOSUPPORT    = 5
	EAGAIN          = 6
	EALREADY        = 7
	EBADF           = 8
	EBADMSG         = 9
	EBUSY           = 10
	ECANCELED       = 11
	ECHILD          = 12
	ECONNABORTED    = 13
	ECONNREFUSED    = 14
	ECONNRESET      = 15
	EDEADLK         = 16
	EDESTADDRREQ    = 17
	EDOM            = 18
	EDQUOT          = 19
	EEXIST          = 20
	EFAULT          = 21
	EFBIG           = 22
	EHOSTUNREACH    = 23
	EIDRM           = 24
	EILSEQ          = 25
	EINPROGRESS     = 26
	EINTR           = 27
	EINVAL          = 28
	EIO             = 29
	EISCONN         = 30
	EISDIR          = 31
	ELOOP           = 32
	EMFILE          = 33
	EMLINK          = 34
	EMSGSIZE        = 35
	EMULTIHOP       = 36
	ENAMETOOLONG    = 37
	ENETDOWN        = 38
	ENETRESET       = 39
	ENETUNREACH     = 40
	ENFILE          = 41
	ENOBUFS         = 42
	ENODEV          = 43
	ENOENT          = 44
	ENOEXEC         = 45
	ENOLCK          = 46
	ENOLINK         = 47
	ENOMEM          = 48
	ENOMSG          = 49
	ENOPROTOOPT     = 50
	ENOSPC          = 51
	ENOSYS          = 52
	ENOTCONN        = 53
	ENOTDIR         = 54
	ENOTEMPTY       = 55
	ENOTRECOVERABLE = 56
	ENOTSOCK        = 57
	ENOTSUP         = 58
	ENOTTY          = 59
	ENXIO           = 60
	EOVERFLOW       = 61
	EOWNERDEAD      = 62
	EPERM           = 63
	EPIPE           = 64
	EPROTO          = 65
	EPROTONOSUPPORT = 66
	EPROTOTYPE      = 67
	ERANGE          = 68
	EROFS           = 69
	ESPIPE          = 70
	ESRCH           = 71
	ESTALE          = 72
	ETIMEDOUT       = 73
	ETXTBSY         = 74
	EXDEV           = 75
	ENOTCAPABLE     = 76
)

// errnoNames is indexed by errno value; it is never written.
var errnoNames = [...]string{
	"ESUCCESS", "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL",
	"EAFNOSUPPORT", "EAGAIN", "EALREADY", "EBADF", "EBADMSG", "EBUSY",
	"ECANCELED", "ECHILD", "ECONNABORTED", "ECONNREFUSED", "ECONNRESET",
	"EDEADLK", "EDESTADDRREQ", "EDOM", "EDQUOT", "EEXIST", "EFAULT", "EFBIG",
	"EHOSTUNREACH", "EIDRM", "EILSEQ", "EINPROGRESS", "EINTR", "EINVAL", "EIO",
	"EISCONN", "EISDIR", "ELOOP", "EMFILE", "EMLINK", "EMSGSIZE", "EMULTIHOP",
	"ENAMETOOLONG", "ENETDOWN", "ENETRESET", "ENETUNREACH", "ENFILE", "ENOBUFS",
	"ENODEV", "ENOENT", "ENOEXEC", "ENOLCK", "ENOLINK", "ENOMEM", "ENOMSG",
	"ENOPROTOOPT", "ENOSPC", "ENOSYS", "ENOTCONN", "ENOTDIR", "ENOTEMPTY",
	"ENOTRECOVERABLE", "ENOTSOCK", "ENOTSUP", "ENOTTY", "ENXIO", "EOVERFLOW",
	"EOWNERDEAD", "EPERM", "EPIPE", "EPROTO", "EPROTONOSUPPORT", "EPROTOTYPE",
	"ERANGE", "EROFS", "ESPIPE", "ESRCH", "ESTALE", "ETIMEDOUT", "ETXTBSY",
	"EXDEV", "ENOTCAPABLE",
}

// ErrnoName returns the name of errno e, e.g. "EFAULT" for 21, and false
// for a number WASI does not define.
func ErrnoName(e uint16) (string, bool) {
	if int(e) < len(errnoNames) {
		return errnoNames[e], true
	}
	return "", false
}

// Preview1Functions returns the name of every function of
// wasi_snapshot_preview1: a module may import any of them, and nothing else
// from that module.
func Preview1Functions() []string {
	return []string{
		"args_get", "args_sizes_get", "environ_get", "environ_sizes_get",
		"clock_res_get", "clock_time_get", "fd_advise", "fd_allocate", "fd_close",
		"fd_datasync", "fd_fdstat_get", "fd_fdstat_set_flags", "fd_fdstat_set_rights",
		"fd_filestat_get", "fd_filestat_set_size", "fd_filestat_set_times", "fd_pread",
		"fd_prestat_get", "fd_prestat_dir_name", "fd_pwrite", "fd_read", "fd_readdir",
		"fd_renumber", "fd_seek", "fd_sync", "fd_tell", "fd_write",
		"path_create_directory", "path_filestat_get", "path_filestat_set_times",
		"path_link", "path_open", "path_readlink", "path_remove_directory",
		"path_rename", "path_symlink", "path_unlink_file", "poll_oneoff",
		"proc_exit", "proc_raise", "sched_yield", "random_get", "sock_accept",
		"sock_recv", "sock_send", "sock_shutdown",
	}
}
