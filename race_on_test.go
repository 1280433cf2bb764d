//go:build race

package pkce

// What the race detector adds to allocation budgets: it drops pooled
// objects at random, so some calls allocate them anew.
const (
	RaceStartAllocs = 2 // Start
	raceDPoPAllocs  = 5 // a DPoP proof (the pools of crypto/ecdsa)
)
