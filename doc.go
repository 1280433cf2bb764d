// Package pkce is the client side of the OAuth 2.0 authorization code
// grant with PKCE (RFC 6749 §4.1, RFC 7636), strict where the RFCs are
// strict. It wraps golang.org/x/oauth2 for transport and adds what a client
// must get right around it.
//
// It serves four groups of users, each with a guide: Go backends
// (https://github.com/pkcekit/pkce/blob/main/docs/backend.md), desktop apps and CLIs
// (https://github.com/pkcekit/pkce/blob/main/docs/desktop-and-cli.md), clients of protected APIs
// and MCP servers (https://github.com/pkcekit/pkce/blob/main/docs/protected-apis.md), and tests
// of authorization servers
// (https://github.com/pkcekit/pkce/blob/main/docs/testing-your-authorization-server.md).
//
// # The whole flow
//
// Create one [Client] per client registration with [New]. The
// configuration is checked there: endpoints must be https (plain http only
// on loopback hosts), the redirect URL must be set, and the client
// authentication must agree with the secret.
//
//	client, err := pkce.New(&oauth2.Config{
//		ClientID:     "my-app",
//		ClientSecret: secret, // leave empty for a public (native) client
//		Endpoint: oauth2.Endpoint{
//			AuthURL:  "https://as.example/authorize",
//			TokenURL: "https://as.example/token",
//		},
//		RedirectURL: "https://app.example/callback",
//		Scopes:      []string{"openid", "profile"},
//	}, pkce.WithIssuer("https://as.example"))
//
// Or give the issuer and let the server's metadata (RFC 8414) supply the
// endpoints, the client authentication, the iss rule and whether requests
// must be pushed (RFC 9126), with [NewFromIssuer]:
//
//	client, err := pkce.NewFromIssuer(ctx, "https://as.example", cfg)
//
// At the login endpoint, [Client.Start] a flow and send the browser to its
// URL. The [Flow] holds a fresh verifier (RFC 7636 §4.1) and state
// (RFC 6749 §10.12); keep it on the server until the callback, for
// instance under its State:
//
//	flow, err := client.Start(ctx, pkce.Param("audience", "https://api.example"))
//	if err != nil {
//		return err
//	}
//	sessions.Save(flow.State, flow) // JSON-serialisable
//	http.Redirect(w, r, flow.URL, http.StatusFound)
//
// At the redirect endpoint, [Client.Finish] it. Finish checks the callback
// (the stored flow against the client, no repeated parameters, the RFC 9207
// iss, the state in constant time, the flow not expired nor finished
// before, an error parameter, the code) before it makes any token request,
// then exchanges the code with the verifier:
//
//	tok, err := client.Finish(r, flow)
//	switch {
//	case errors.Is(err, pkce.ErrAccessDenied):
//		// the user said no
//	case err != nil:
//		// the message says which rule broke, e.g. "RFC 9207 §2.4"
//	}
//
// The token is an *oauth2.Token (embedded in [Token], which prints without
// secrets), so everything built for golang.org/x/oauth2 accepts it. Finish
// is the safe path; its two halves, [Client.VerifyCallback] and
// [Client.Exchange], are there for callbacks that do not arrive as an
// *http.Request. A flow is finished once per [Store]: give the replicas of
// an application one shared Store with [WithStore].
//
// # Native apps
//
// Desktop apps and command-line tools are public clients that receive the
// redirect on the loopback interface (RFC 8252 §7.3).
// [Client.SignInLoopback] does the whole flow in one call: it listens on
// 127.0.0.1 on an ephemeral port, hands a local start URL (which sends
// the browser on to the authorization URL, keeping the state off the
// browser's command line) to a function that opens the browser, waits for
// the redirect with the right state and exchanges the code.
//
//	tok, err := client.SignInLoopback(ctx, openBrowser)
//
// # Refresh
//
// [Client.TokenSource] returns an oauth2.TokenSource that refreshes the
// token (RFC 6749 §6) when it nears expiry, with one request however many
// goroutines ask, and a hook that saves each new token before anyone uses
// it. Keep one source per user and share it:
//
//	src, err := client.TokenSource(tok.Token, pkce.OnRefresh(save))
//	httpClient := src.Client(ctx)
//
// Where tokens live in a database or Redis and several processes serve
// the same users, take sources from [Tokens] over a shared [Store]
// instead: one refresh per expiry per user across every replica.
//
//	tokens, err := client.Tokens(store)
//	err = tokens.Save(ctx, userID, tok)         // after sign-in
//	src, err := tokens.Source(ctx, userID)      // in each request
//
// Every refresh error matches exactly one class:
//
//	answer to the refresh request                           class
//	5xx, 408 or 429, whatever the body                      ErrTryLater
//	error invalid_grant                                     ErrSignInRequired
//	error invalid_client, unauthorized_client,
//	      unsupported_grant_type                            ErrClientRejected
//	the same client rejection to the same refresh token
//	      again, >= 1 s later, another refresh of the
//	      client served in between                          ErrSignInRequired
//	any other error code, known or not (invalid_request,
//	      invalid_scope, server_error, ...)                 ErrTryLater
//	the same 4xx code to the same refresh token again,
//	      >= 1 s later (after the back-off), another
//	      refresh of the client served in between, or
//	      for 10 minutes                                    ErrSignInRequired
//	another 4xx without an error object (empty, HTML)       ErrSignInRequired
//	a malformed answer (case-variant members), a malformed
//	      2xx, a redirect, no answer, a timeout             ErrTryLater
//	no refresh token; the source was signed out             ErrSignInRequired
//	Tokens: the stored refresh token was refused before,
//	      or the stored value does not decode               ErrSignInRequired
//	the OnRefresh hook or the Store failed or panicked      ErrTryLater
//	the caller's own context ended (also matches ctx.Err()) ErrTryLater
//
// On ErrSignInRequired, delete the stored token and sign the user in
// again. On ErrTryLater, keep it. On ErrClientRejected keep it too: the
// client's credentials or registration need fixing, not the user's grant.
//
// [Client.Revoke] revokes a token (RFC 7009); [TokenSource.SignOut] and
// [Tokens.SignOut] forget the token and revoke it.
//
// # Protected APIs and MCP servers
//
// A client that knows only an API's URL, and learns its authorization
// server from the API's 401 (RFC 9728), uses package
// github.com/pkcekit/pkce/protected, built on this one; [WithResource]
// (RFC 8707) is the part of it that belongs to the flow.
//
// # Client authentication
//
// The method is explicit and never probed: [AuthSecretBasic] (HTTP Basic
// with the id and secret form-encoded, RFC 6749 §2.3.1), [AuthSecretPost]
// (in the body), [AuthPrivateKeyJWT] (a JWT signed with the client's own
// key, RFC 7523 §2.2), or [AuthNone] for public clients. Without
// [WithAuthMethod], a client with a key ([WithClientKey]) uses
// private_key_jwt, one with a secret uses Basic and one without either
// uses none. A private_key_jwt client signs a fresh, 60-second assertion
// for every request to the token, PAR and revocation endpoints, with the
// issuer identifier as its audience:
//
//	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // register its public key with the server
//	client, err := pkce.NewFromIssuer(ctx, issuer, cfg, pkce.WithClientKey(key, "key-1", ""))
//
// # Sender-constrained tokens
//
// [WithDPoP] binds tokens to a key the client holds (DPoP, RFC 9449):
// token and PAR requests carry a proof signed with it, the authorization
// request carries its thumbprint (dpop_jkt), and [TokenSource.Client]
// sends DPoP tokens with a fresh proof per request. When a server asks for
// a nonce, the request is sent once more with it. Keep the key with the
// tokens: refresh tokens of public clients are bound to it.
// [WithDPoPRequired] refuses servers that answer with a Bearer token.
//
// [WithFAPI2] holds a client to the FAPI 2.0 Security Profile: PAR,
// private_key_jwt, DPoP, iss on every callback, and PS256, ES256 or EdDSA
// only; New names the clause of whatever the configuration lacks.
//
//	client, err := pkce.NewFromIssuer(ctx, issuer, cfg, pkce.WithFAPI2(),
//		pkce.WithClientKey(clientKey, "key-1", ""), pkce.WithDPoP(dpopKey))
//
// # Providers that deviate
//
// The package is strict by default. Where a major provider deviates from
// the RFCs in a documented way, a named option of package
// github.com/pkcekit/pkce/tolerate accepts that deviation and nothing
// else: tolerate.TokenStatus for token responses sent
// with 201 (the Supabase Management API), tolerate.IssuerTrailingSlash
// for metadata whose issuer differs from the one asked for by a trailing
// slash, tolerate.TokenTypes for token types other than Bearer (Slack's
// "bot"). The providers guide, docs/providers.md, has a table of providers
// and what each needs.
//
// # Errors
//
// Errors say what broke and where the rule is written, since the package is
// also used as a strict client in tests of authorization servers. They
// never contain a secret, code, verifier, state or token. Every error type
// and sentinel is in errors.go:
//
//   - [*CallbackError]: the redirect or the stored flow was wrong; no token
//     request was made. errors.Is matches its cause: [ErrInvalidFlow],
//     [ErrMalformedCallback], [ErrStateMismatch], [ErrIssuerMismatch],
//     [ErrFlowExpired], [ErrFlowFinished].
//   - [*OAuthError]: the server reported an OAuth error, error=... on the
//     redirect (Op "authorization") or an error object from an endpoint
//     (RFC 6749 §5.2). errors.Is matches its [ErrorCode], such as
//     [ErrAccessDenied] or ErrorCode("invalid_grant"); for endpoints,
//     errors.As also finds the *oauth2.RetrieveError, without secrets.
//   - [*ResponseError]: an endpoint broke the protocol (HTML instead of
//     JSON, no token_type, a status other than 200, an oversized body, a
//     metadata issuer that differs). errors.Is matches [ErrInvalidResponse]
//     or [ErrIssuerMismatch]; the message and Rule say what broke.
//   - no complete answer (connection refused, reset, timeout): the message
//     names the endpoint, and errors.Is and errors.As find the cause, such
//     as context.DeadlineExceeded or a *url.Error.
//   - [ErrInvalidConfig]: what the application gave was wrong.
//   - [ErrSignInRequired], [ErrTryLater], [ErrClientRejected]: the class of
//     every refresh error, above.
//
// The Op of an error names the step it came from, as a string:
// "authorization", "code exchange", "refresh", "pushed authorization
// request", "revocation", "metadata discovery", "token request" (another
// grant, [Client.Grant]), "userinfo", and for the client of protected APIs
// "protected resource metadata", "dynamic client registration" and
// "protected resource".
//
// # HTTP clients
//
// Requests to the authorization server use, in order: an *http.Client
// stored in the context under oauth2.HTTPClient, the one given to
// [WithHTTPClient], http.DefaultClient. Whatever the client, requests that
// carry credentials do not follow redirects, response bodies are bounded
// ([WithMaxResponseBytes]), and a request whose context has no deadline
// stops after 30 seconds.
package pkce
