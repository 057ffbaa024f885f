// Package wasip1 is water-pt's WASI preview-1 host: every function of
// wasi_snapshot_preview1 (one file per area: args.go, clock.go, fd.go,
// path.go, poll.go, sock.go, proc.go, random.go), the fd table and the
// files in it (sockets, the config file, stdio, read-only directories), the
// write queues behind non-blocking sockets, and the ready watch a parked
// poll_oneoff waits on.
//
// A Host is what a runtime's instances share (clock, limits, ready watch,
// the write queues' blocks); a Context is one instance's WASI state (fd
// table, logger, interrupt, wake-up, poll scratch, exit code). Every host
// function, WASI or WATER, is declared as a Func: a name, parameter types
// and names, a Results kind and a named body that binds its parameters to
// named locals first and returns a portable Errno, which Export turns into
// the ABI value. Each function's doc comment lists the errnos it returns;
// pointers are checked before the descriptor (EFAULT before EBADF).
//
// It knows nothing of WATER. Package watm builds the WATER imports,
// sessions and the runtime on it, and reaches in only through small,
// named points: File (the cancel channel and the host services are files
// of watm's own, the cancel channel a VirtualFile that poll_oneoff waits on
// through Context.Wake), SockFile.Watch (the hang-up watch follows the
// connection's sockets), Context.Stop (a forced stop) and Export's from (how
// a call finds its Context). It imports only leaf packages
// (watm/internal/spec, watm/internal/epoll), never watm.
package wasip1
