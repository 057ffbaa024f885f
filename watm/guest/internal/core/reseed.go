//go:build wasip1

package core

// The waterpt_reseed export, when the module is built with the tag
// waterpt_reseed (see package reseed): a host may then run connections
// from a snapshot of the initialised module.
import _ "github.com/water-pt/water-pt/watm/guest/internal/reseed"
