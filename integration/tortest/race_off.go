//go:build !race

package tortest

const raceEnabled = false
