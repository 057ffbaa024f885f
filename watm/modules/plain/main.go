//go:build wasip1

// Command plain is the identity WATM (WATER v0): bytes pass unchanged. It
// is the default transport and the baseline for measuring the runtime.
package main

import (
	"github.com/water-pt/water-pt/watm/guest"
	_ "github.com/water-pt/water-pt/watm/guest/v0"
	"github.com/water-pt/water-pt/watm/modules/transform"
)

func init() { guest.Register(transform.Plain{}) }

func main() {}
