// Package fapi runs package pkce against oidc-provider (the npm package,
// pinned in package.json and package-lock.json) configured with its FAPI
// 2.0 profile, DPoP with server nonces required and private_key_jwt. The
// tests install it with npm ci into node_modules beside this file when it
// is missing, start it on a free loopback port with node, and stop it by
// its process id when they end. Without node and npm the tests skip,
// except under CI=true, where they fail.
//
// It is a nested module so that neither the Node.js tooling nor this
// package reaches importers of github.com/pkcekit/pkce.
package fapi
