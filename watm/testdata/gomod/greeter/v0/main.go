//go:build wasip1

// Command v0 is the greeter test WATM built for WATER v0.
package main

import (
	_ "github.com/water-pt/water-pt/watm/guest/v0"
	"github.com/water-pt/water-pt/watm/testdata/gomod/greeter"
)

func init() { greeter.Register() }

func main() {}
