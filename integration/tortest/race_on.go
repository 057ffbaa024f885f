//go:build race

package tortest

// raceEnabled reports whether this test binary was built with -race; Build
// then builds the PT with -race too.
const raceEnabled = true
