// Package watm runs WebAssembly Transport Modules (WATMs, the WATER design)
// on upstream wazero, with no fork and no cgo.
//
// A Runtime compiles each module once (Load) and shares the compiled code
// among all connections; every connection gets its own instance, driven as
// a Session:
//
//	instantiate -> _initialize / _start -> _water_init
//	  -> _water_dial(plaintext fd) | _water_accept(plaintext fd) | _water_associate()
//	  -> _water_cancel_with(cancel fd) -> _water_worker()   (on its own goroutine)
//
// (v1 modules: watm_init_v1, watm_dial_v1 / watm_accept_v1 /
// watm_associate_v1, watm_ctrlpipe_v1, watm_start_v1; a v1 module that
// exports no watm_dial_v1 is dialed through watm_dial_fixed_v1, and the
// address it passes to water_dial is checked by the dial policy, as upstream
// does.) Dialer, Listener and
// Relay wrap sessions for the three roles.
//
// # Loading
//
// Load compiles a module with a stop check at every loop iteration (wazero's
// close-on-context-done), so any instance can be stopped whatever it does;
// LoadTrusted compiles it without, for modules trusted to reach a host call
// (2-10x faster byte loops). At load the module's data segments become an
// initial-memory image that every instance maps copy-on-write, and a pool
// keeps a few instances started (and, for connections without a config,
// initialised) ahead of demand; an instance of a snapshotted module goes
// back to the pool after its connection, restored to the snapshot. RATIONALE.md at the repository root explains
// each of these.
//
// # The WASI layer
//
// The runtime provides its own wasi_snapshot_preview1 host module rather
// than wazero's, because a WATM's descriptors are sockets the host hands
// over (the plaintext conn, what host_dial and host_accept return, the
// cancel channel), and wazero's file system has no way to hold them. Every
// preview-1 function exists; those that need a file system answer with an
// errno. The WASI layer is its own package, watm/internal/wasip1 (one file
// per area: args, clock, fd, path, poll, sock, proc, random), holding each
// instance's WASI state in a wasip1.Context; this package builds the WATER
// imports (host_env.go), sessions and the runtime on it. Every host
// function, WASI or WATER, is declared the same way (a wasip1.Func with its
// name, parameter types and names, and a named body that binds its
// parameters first and returns an Errno; its doc comment lists the errnos);
// pointers are checked before anything else, so a bad pointer is EFAULT and
// loses no data.
//
// Sockets with an OS descriptor are read and written straight between the
// descriptor and the module's memory. poll_oneoff waits up to 1 ms in
// ppoll(2) on those descriptors, then parks its goroutine: the Runtime's
// one epoll instance, waited on in the Go netpoller, wakes it when a socket
// is ready (wasip1's park.go). The cancel channel is a descriptor with no
// kernel object (cancel.go); a forced stop and the write queues wake a parked
// module through channels. An idle connection holds no OS thread and no
// descriptor beyond its sockets. A net.Conn without a descriptor (a TLS conn, net.Pipe) is bridged through
// a socketpair.
//
// A non-blocking fd_write never returns a short count: what the kernel does
// not take goes into a bounded queue of that socket, written out in order by
// a goroutine that runs only while the queue has bytes; while it is full,
// the instance's other sockets give no input (EAGAIN), and a module that
// waits for writability gets EAGAIN instead (wasip1's writequeue.go). poll_oneoff
// leaves out the write subscription of a socket already reported writable
// and not written to since when the wait also has a read or clock
// subscription, so modules that always ask "writable?" sleep when idle.
// Session.Behaviour counts what a module needed of these.
//
// # Lifecycle and limits
//
// Session.Close writes the cancel channel, waits the grace period, then
// stops the instance by force: blocked host calls are woken, every later
// host call unwinds the module and, for a module loaded with Load, wazero's
// close-on-context-done ends a module spinning in a loop (one loaded with
// LoadTrusted that spins without host calls cannot be stopped). A trap, a
// proc_exit or a host panic ends only its own session, with a TrapError,
// ExitError or StopError; Close and Wait report it, and only the module's
// answer to the cancel channel (ECANCELED) counts as a clean end. Each
// instance is limited in memory pages, open descriptors and host_dial /
// host_accept calls (see the Default* constants). When a session ends,
// every socket it held is closed.
//
// A session lives no longer than its connection. From Start, the
// Runtime's one hang-up watch (a single epoll instance waited on in the Go
// netpoller: no thread or descriptor per connection) follows the session's
// plaintext and network sockets for hang-ups only. A reset ends the session
// at once; a hang-up (the peer's FIN) ends it unless the module reads that
// end of file, or at least keeps reading the socket, within half the grace
// period. Ending is Close: cancel channel, grace, forced stop.
//
// Set-up (start function, init, role entry, cancel channel) runs under the
// set-up timeout (WithSetupTimeout, DefaultSetupTimeout); past it the
// instance is stopped by force and Prepare fails with a SetupTimeoutError.
// The pool's instances are bounded the same way.
package watm
