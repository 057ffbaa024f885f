//go:build wasip1

// Command plain_v1 is the identity WATM for the WATER v1 ABI: the plain
// module's transform behind watm_*_v1 exports, to exercise a host's v1
// support.
package main

import (
	"github.com/water-pt/water-pt/watm/guest"
	_ "github.com/water-pt/water-pt/watm/guest/v1"
	"github.com/water-pt/water-pt/watm/modules/transform"
)

func init() { guest.Register(transform.Plain{}) }

func main() {}
