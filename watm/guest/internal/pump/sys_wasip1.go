//go:build wasip1

package pump

import "github.com/water-pt/water-pt/watm/guest/internal/wasi"

// WASI returns the Sys backed by the module's wasi_snapshot_preview1 imports.
func WASI() Sys { return &wasiSys }

var wasiSys realSys

type realSys struct {
	subs   [MaxSubs + 1]wasi.Subscription
	events [MaxSubs + 1]wasi.Event
}

// clockUserdata marks the timeout subscription of a non-waiting Poll.
const clockUserdata = ^uint64(0)

func (*realSys) SetNonblock(fd int32) wasi.Errno            { return wasi.SetNonblock(fd) }
func (*realSys) Read(fd int32, p []byte) (int, wasi.Errno)  { return wasi.Read(fd, p) }
func (*realSys) Write(fd int32, p []byte) (int, wasi.Errno) { return wasi.Write(fd, p) }
func (*realSys) ShutdownWrite(fd int32) wasi.Errno          { return wasi.ShutdownWrite(fd) }

func (s *realSys) Poll(subs []Sub, wait bool, ready []Ready) (int, wasi.Errno) {
	if len(subs) > MaxSubs {
		return 0, wasi.EINVAL
	}
	n := 0
	for i, sub := range subs {
		t := wasi.EventFDRead
		if sub.Write {
			t = wasi.EventFDWrite
		}
		s.subs[n].SetFD(uint64(i), t, sub.FD)
		n++
	}
	if !wait {
		s.subs[n].SetClock(clockUserdata, 0)
		n++
	}
	got, e := wasi.Poll(s.subs[:n], s.events[:n])
	if e != wasi.ESUCCESS {
		return 0, e
	}
	k := 0
	for i := range s.events[:min(got, n)] {
		ev := &s.events[i]
		u := ev.UserData()
		if ev.Type() == wasi.EventClock || u >= uint64(len(subs)) || k >= len(ready) {
			continue
		}
		ready[k] = Ready{Sub: int(u), Err: ev.Errno()}
		k++
	}
	return k, wasi.ESUCCESS
}
