package main

import (
	"fmt"
	"testing"
	"time"
)

func TestByteSizeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"33554432", 32 << 20, true},
		{"32MiB", 32 << 20, true},
		{"512KiB", 512 << 10, true},
		{"1GiB", 1 << 30, true},
		{"0", 0, false},
		{"-1", 0, false},
		{"32MB", 0, false},
		{"2000GiB", 0, false},
		{"", 0, false},
	} {
		var b byteSize
		err := b.Set(tc.in)
		if (err == nil) != tc.ok || (tc.ok && int64(b) != tc.want) {
			t.Errorf("Set(%q) = %d, %v; want %d, ok=%v", tc.in, b, err, tc.want, tc.ok)
		}
	}
}

func TestCheckServerLimits(t *testing.T) {
	for _, tc := range []struct {
		o    options
		want string
	}{
		{options{idleTimeout: time.Second, maxConns: 10}, ""},
		{options{}, ""},
		{options{idleTimeout: -time.Second}, "-server-idle-timeout -1s: want 0 (no deadline) or more"},
		{options{maxConns: -1}, "-max-conns -1: want 0 (no cap) or more"},
	} {
		err := tc.o.checkServerLimits()
		if got := fmt.Sprint(err); (err == nil) != (tc.want == "") || (err != nil && got != tc.want) {
			t.Errorf("checkServerLimits(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
}
