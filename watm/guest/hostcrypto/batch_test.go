package hostcrypto

import (
	"strings"
	"testing"
)

func boxesOf(n, size int) [][]byte {
	b := make([][]byte, n)
	for i := range b {
		b[i] = make([]byte, size)
	}
	return b
}

// TestChunk: batches are split at MaxBatch boxes and MaxBatchBytes bytes
// (counted without the tag for Seal, with it for Open), and a box the host
// would refuse is an error.
func TestChunk(t *testing.T) {
	for _, tc := range []struct {
		name  string
		boxes [][]byte
		skip  int
		want  int
		err   string
	}{
		{"one", boxesOf(1, 16), overhead, 1, ""},
		{"at the count bound", boxesOf(MaxBatch, 100), 0, MaxBatch, ""},
		{"past the count bound", boxesOf(MaxBatch+5, 100), 0, MaxBatch, ""},
		{"at the byte bound, seal", boxesOf(2, MaxBatchBytes/2+overhead), overhead, 2, ""},
		{"past the byte bound, open", boxesOf(2, MaxBatchBytes/2+overhead), 0, 1, ""},
		{"one box too long", boxesOf(1, MaxBatchBytes+1), 0, 0, "over the host's"},
		{"a box shorter than its tag", append(boxesOf(1, 16), make([]byte, 15)), 0, 0, "shorter than its 16-byte tag"},
	} {
		n, err := chunk(tc.boxes, tc.skip)
		if n != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: chunk = %d, %v; want %d, %q", tc.name, n, err, tc.want, tc.err)
		}
	}
}
