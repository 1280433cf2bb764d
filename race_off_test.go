//go:build !race

package pkce_test

// raceStartAllocs is what the race detector adds to Start's allocation
// budget.
const raceStartAllocs = 0
