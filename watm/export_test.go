package watm

// Live is the number of sessions still running (for tests).
func (r *Runtime) Live() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}

// WatchedSockets is the number of sockets the runtime's hang-up watch
// follows (for tests).
func (r *Runtime) WatchedSockets() int { return r.hangups.registered() }

// FullQueues is the number of the session's write queues at or over their
// bound (for tests).
func (s *Session) FullQueues() int32 { return s.in.wasi.FullQueues() }

// Parked is the number of instances parked in poll_oneoff (for tests).
func (r *Runtime) Parked() int32 { return r.wasi.Parked() }

// ReadySockets is the number of sockets registered with the runtime's
// ready watch (for tests).
func (r *Runtime) ReadySockets() int { return r.wasi.ReadySockets() }
