//go:build race

package pkce_test

// raceStartAllocs is what the race detector adds to Start's allocation
// budget: it drops pooled objects at random, so Start allocates some
// anew.
const raceStartAllocs = 2
