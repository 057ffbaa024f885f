package proto

import (
	"sync"
	"time"
)

// maxReplayEntries bounds a memory replay filter, as lyrebird's
// (100 Ki entries); the oldest entry goes first when it is full.
const maxReplayEntries = 100 * 1024

type replayEntry struct {
	key  string
	seen time.Time
}

type memReplayFilter struct {
	mu    sync.Mutex
	ttl   time.Duration
	seen  map[string]time.Time
	order []replayEntry // oldest first
}

// NewMemReplayFilter returns an in-memory ReplayFilter whose entries expire
// after ttl; for native tests and hosts. lyrebird uses 3 hours.
func NewMemReplayFilter(ttl time.Duration) ReplayFilter {
	return &memReplayFilter{ttl: ttl, seen: make(map[string]time.Time)}
}

func (f *memReplayFilter) TestAndSet(now time.Time, key []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire(now)
	if _, ok := f.seen[string(key)]; ok {
		return true
	}
	k := string(key)
	f.seen[k] = now
	f.order = append(f.order, replayEntry{k, now})
	return false
}

// expire drops entries older than ttl, and the oldest when full. A clock
// that went backwards empties the filter, as lyrebird does.
func (f *memReplayFilter) expire(now time.Time) {
	drop := 0
	for drop < len(f.order) {
		e := f.order[drop]
		age := now.Sub(e.seen)
		if age < 0 {
			f.seen = make(map[string]time.Time)
			f.order = nil
			return
		}
		if age < f.ttl && len(f.order)-drop < maxReplayEntries {
			break
		}
		delete(f.seen, e.key)
		drop++
	}
	if drop > 0 {
		f.order = append(f.order[:0], f.order[drop:]...)
	}
}
