//go:build wasip1

// Command v1 is the greeter test WATM built for WATER v1.
package main

import (
	_ "github.com/water-pt/water-pt/watm/guest/v1"
	"github.com/water-pt/water-pt/watm/testdata/gomod/greeter"
)

func init() { greeter.Register() }

func main() {}
