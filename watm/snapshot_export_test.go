package watm

// Snapshotted reports whether m's instances start from a snapshot taken
// after its start function (for tests).
func (m *Module) Snapshotted() bool { return m.snap != nil }

// SkipReseed makes m's clones skip the reseed export, to show what it
// prevents. Call it before any instance is made, with the pool off.
func (m *Module) SkipReseed() { m.snap.unseeded = true }
