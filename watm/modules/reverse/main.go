//go:build wasip1

// Command reverse is a WATM (WATER v0) that reverses the bit order of every
// byte in both directions: the bytes on the wire differ from the plaintext,
// which lets tests tell a transformed stream from a passed-through one.
package main

import (
	"github.com/water-pt/water-pt/watm/guest"
	_ "github.com/water-pt/water-pt/watm/guest/v0"
	"github.com/water-pt/water-pt/watm/modules/transform"
)

func init() { guest.Register(transform.Reverse{}) }

func main() {}
