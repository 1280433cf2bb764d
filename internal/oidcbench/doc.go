// Package oidcbench measures the verification of one ID token with
// cached keys by package pkce side by side with
// github.com/coreos/go-oidc/v3's IDTokenVerifier, on the same token and
// key, in the same run. It is a module of its own so that go-oidc and
// go-jose never reach the root module's go.sum.
package oidcbench
