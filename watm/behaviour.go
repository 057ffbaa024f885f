package watm

// Behaviour counts what a module did that other WATER hosts may not
// tolerate. Read it after the session ends (or any time; it is atomic).
type Behaviour struct {
	ShortWritesAbsorbed  uint64 // fd_write calls on a non-blocking socket where the kernel took less than asked and the host queued the rest
	WritePollsSuppressed uint64 // waits where a write-readiness subscription was left out because nothing was written since it was last reported writable (busy polling)
	StdioWrites          uint64 // fd_write calls to fd 1 or 2
	CancelIgnored        bool   // Close had to stop the instance by force after the grace period
}

// behaviour is the instance's counts so far.
func (in *instance) behaviour() Behaviour {
	c := &in.wasi.Counters
	return Behaviour{
		ShortWritesAbsorbed:  c.ShortWrites.Load(),
		WritePollsSuppressed: c.Suppressed.Load(),
		StdioWrites:          c.StdioWrites.Load(),
		CancelIgnored:        in.cancelIgnored.Load(),
	}
}

// Behaviour returns what the module did so far that other WATER hosts may
// not tolerate (see Behaviour).
func (s *Session) Behaviour() Behaviour { return s.in.behaviour() }
