package watm

import (
	"sync"
	"time"
)

// Bounds of water_seen.
const (
	// seenMaxKey is the longest key water_seen takes (obfs4 uses 16-byte
	// MACs; 64 leaves room for a SHA-512).
	seenMaxKey = 64
	// seenMaxEntries bounds each module's set (lyrebird's replay filter
	// holds 100 Ki entries); past it the oldest entry is evicted.
	seenMaxEntries = 100 << 10
)

// seenSet is water_seen's memory for one module: keys with their expiry,
// and the order they were recorded in, for eviction.
type seenSet struct {
	mu      sync.Mutex
	max     int
	expiry  map[string]seenEntry
	order   []string // keys by insertion, oldest at head (a ring)
	head, n int
}

type seenEntry struct {
	until time.Time
	slot  int // the ring position that recorded it
}

func newSeenSet(max int) *seenSet {
	return &seenSet{max: max, expiry: map[string]seenEntry{}}
}

// testAndSet reports whether key was recorded and has not expired at now;
// if not, it records key until now+ttl.
func (s *seenSet) testAndSet(now time.Time, key string, ttl time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.expiry[key]; ok && now.Before(e.until) {
		return true
	}
	if s.order == nil {
		s.order = make([]string, s.max) // only modules that use water_seen pay
	}
	if s.n == s.max {
		s.evictOldest()
	}
	slot := (s.head + s.n) % s.max
	s.order[slot] = key
	s.n++
	s.expiry[key] = seenEntry{until: now.Add(ttl), slot: slot}
	return false
}

// evictOldest drops the ring's oldest slot, and its key unless the key was
// recorded again since (in a newer slot).
func (s *seenSet) evictOldest() {
	key := s.order[s.head]
	if e, ok := s.expiry[key]; ok && e.slot == s.head {
		delete(s.expiry, key)
	}
	s.order[s.head] = ""
	s.head = (s.head + 1) % s.max
	s.n--
}

// len is the number of keys held.
func (s *seenSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.expiry)
}

// seenFor returns the set shared by every module loaded from the bytes
// whose SHA-256 is sum.
func (r *Runtime) seenFor(sum [32]byte) *seenSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.seen[sum]; s != nil {
		return s
	}
	s := newSeenSet(seenMaxEntries)
	r.seen[sum] = s
	return s
}
