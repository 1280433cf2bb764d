// Package pkcetest provides an in-process OAuth 2.0 authorization server
// for tests of OAuth clients, in the spirit of net/http/httptest. It is for
// tests only: it keeps everything in memory, approves a fixed user, signs
// nothing and must never be used in production.
//
// It serves applications that test their sign-in end to end, backends and
// CLIs alike; the backend guide shows how:
// https://github.com/pkcekit/pkce/blob/main/docs/backend.md#web-backends.
//
// The server implements the authorization code grant (RFC 6749 §4.1) with
// PKCE (RFC 7636, S256 only), the refresh grant (RFC 6749 §6) with optional
// rotation and reuse detection (RFC 9700 §4.14.2), the authorization
// server issuer identifier (RFC 9207), resource indicators (RFC 8707),
// authorization server metadata (RFC 8414, and the same document at the
// OpenID Connect Discovery path), token revocation (RFC 7009), pushed
// authorization requests (RFC 9126), the form_post response mode,
// private_key_jwt client authentication (RFC 7523), DPoP-bound tokens
// with optional server nonces (RFC 9449, Config.DPoP and
// Config.DPoPNonce) and a resource protected by bearer or DPoP tokens
// (RFC 6750, RFC 9449 §7). It is strict: a request that breaks
// a rule is answered with the error the RFC prescribes, so a client that
// passes against it is unlikely to be lenient by accident.
//
// A test starts a server, registers its client in Config, and plays the
// browser with Server.Authorize:
//
//	srv := pkcetest.NewServer(pkcetest.Config{Clients: []pkcetest.Client{{
//		ID:           "my-app",
//		Method:       pkcetest.MethodNone,
//		RedirectURIs: []string{"http://127.0.0.1/callback"},
//	}}})
//	defer srv.Close()
//
//	// Build the authorization URL with the client under test, then:
//	cb, err := srv.Authorize(ctx, authURL)
//	// cb.Params holds code, state and iss, ready for the client's callback.
//
// Every authorization request is granted to the user TestUser, at once or,
// with Config.Consent, after a consent page that a Browser can approve or
// deny. Faults makes the server misbehave on purpose, the way real servers
// and the proxies in front of them do, so that a test can check how the
// client copes.
package pkcetest
