//go:build !race

package pkce

// What the race detector adds to allocation budgets (see race_on_test.go).
const (
	RaceStartAllocs = 0
	raceDPoPAllocs  = 0
)
