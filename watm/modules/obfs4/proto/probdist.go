package proto

import (
	"math/rand"
	"sync"
)

// weightedDist is lyrebird's common/probdist with uniform weights: a random
// subset (at most 100) of the values min..max with random weights, built
// from a hash DRBG seed so that both ends of a connection (and lyrebird,
// given the same seed) build the same table; sampled with Vose's alias
// method. Samples are drawn from fresh randomness (coins), not the DRBG.
type weightedDist struct {
	mu     sync.Mutex
	min    int
	max    int
	values []int
	prob   []float64
	alias  []int
	coins  *coins
}

func newWeightedDist(seed *[drbgSeedLength]byte, min, max int, c *coins) *weightedDist {
	w := &weightedDist{min: min, max: max, coins: c}
	w.reset(seed)
	return w
}

// reset rebuilds the table from seed, drawing from math/rand over the DRBG
// in the order lyrebird does (Perm, Intn, then one Float64 per value).
func (w *weightedDist) reset(seed *[drbgSeedLength]byte) {
	d := newHashDRBG(seed)
	rng := rand.New(&d)
	n := w.max + 1 - w.min
	values := rng.Perm(n)
	n = min(max(n, 1), 100)
	n = rng.Intn(n) + 1
	weights := make([]float64, n)
	for i := range weights {
		weights[i] = rng.Float64()
	}
	prob, alias := aliasTables(weights)

	w.mu.Lock()
	w.values, w.prob, w.alias = values[:n], prob, alias
	w.mu.Unlock()
}

// aliasTables builds Vose's alias tables, with the work lists processed
// first in, first out, as lyrebird does.
func aliasTables(weights []float64) ([]float64, []int) {
	n := len(weights)
	var sum float64
	for _, x := range weights {
		sum += x
	}
	prob := make([]float64, n)
	alias := make([]int, n)
	scaled := make([]float64, n)
	var small, large []int
	for i, x := range weights {
		scaled[i] = x * float64(n) / sum
		if scaled[i] < 1.0 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l, g := small[0], large[0]
		small, large = small[1:], large[1:]
		prob[l] = scaled[l]
		alias[l] = g
		scaled[g] = (scaled[g] + scaled[l]) - 1.0
		if scaled[g] < 1.0 {
			small = append(small, g)
		} else {
			large = append(large, g)
		}
	}
	for _, g := range large {
		prob[g] = 1.0
	}
	for _, l := range small {
		prob[l] = 1.0
	}
	return prob, alias
}

// sample draws one value.
func (w *weightedDist) sample() (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, err := w.coins.intn(len(w.values))
	if err != nil {
		return 0, err
	}
	f, err := w.coins.float64()
	if err != nil {
		return 0, err
	}
	if f > w.prob[i] {
		i = w.alias[i]
	}
	return w.min + w.values[i], nil
}
