package watm

// WatchedSockets is the number of sockets the runtime's hang-up watch
// follows (for tests).
func (r *Runtime) WatchedSockets() int { return r.hangups.registered() }

// FullQueues is the number of the session's write queues at or over their
// bound (for tests).
func (s *Session) FullQueues() int32 { return s.in.fullQueues.Load() }
