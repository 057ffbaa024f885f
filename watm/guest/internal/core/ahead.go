//go:build wasip1

package core

import "github.com/water-pt/water-pt/watm/guest/internal/wasi"

// waterptAhead is water-pt's waterpt_ahead export: a host may call it once
// in an instance before that instance serves a connection, with no config
// (see Conn.Ahead). 0, or EIO with the error's text on stderr.
//
//go:wasmexport waterpt_ahead
func waterptAhead() int32 {
	if conn == nil || conn.Ahead == nil {
		return 0
	}
	if err := conn.Ahead(); err != nil {
		Fail("ahead", err)
		return -int32(wasi.EIO)
	}
	return 0
}
