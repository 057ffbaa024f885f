package watm

// Snapshotted reports whether m's instances start from a snapshot taken
// after its start function (for tests).
func (m *Module) Snapshotted() bool { return m.snap != nil }

// SkipReseed makes m's clones skip the reseed export, to show what it
// prevents. Call it before any instance is made, with the pool off.
func (m *Module) SkipReseed() { m.snap.unseeded = true }

// Reused is how many connections of m took an instance that had served
// an earlier one, restored to the snapshot (recycle.go).
func (m *Module) Reused() uint64 { return m.pool.reused.Load() }
