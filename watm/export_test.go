package watm

// WatchedSockets is the number of sockets the runtime's hang-up watch
// follows (for tests).
func (r *Runtime) WatchedSockets() int { return r.hangups.registered() }
