// Package pkce is the client side of the OAuth 2.0 authorization code
// grant with PKCE (RFC 6749 §4.1, RFC 7636), strict where the RFCs are
// strict. It wraps golang.org/x/oauth2 for transport and adds what a client
// must get right around it.
//
// # The whole flow
//
// Create one Client per client registration. The configuration is checked
// here: endpoints must be https (plain http only on loopback hosts), the
// redirect URL must be set, and the client authentication must agree with
// the secret.
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
// must be pushed (RFC 9126):
//
//	client, err := pkce.NewFromIssuer(ctx, "https://as.example", cfg)
//
// At the login endpoint, start a flow and send the browser to its URL. The
// flow holds a fresh verifier (RFC 7636 §4.1) and state (RFC 6749 §10.12);
// keep it on the server, in the user's session, until the callback:
//
//	flow, err := client.StartContext(ctx, pkce.Param("audience", "https://api.example"))
//	session.Save(flow) // JSON-serialisable
//	http.Redirect(w, r, flow.URL, http.StatusFound)
//
// At the redirect endpoint, finish it. FinishRequest checks the callback
// (no repeated parameters, the RFC 9207 iss, the state in constant time,
// the flow not expired nor used, an error parameter, the code) before it
// makes any token request, then exchanges the code with the verifier:
//
//	tok, err := client.FinishRequest(r, flow)
//	var authErr *pkce.AuthorizationError
//	switch {
//	case errors.Is(err, pkce.ErrAccessDenied):
//		// the user said no
//	case err != nil:
//		// the message says which rule broke, e.g. "RFC 9207 §2.4"
//	}
//
// The token is an *oauth2.Token (embedded in Token, which prints without
// secrets), so everything built for golang.org/x/oauth2 accepts it.
//
// # Native apps
//
// Desktop apps and command-line tools are public clients that receive the
// redirect on the loopback interface (RFC 8252 §7.3). SignInLoopback does
// the whole flow in one call: it listens on 127.0.0.1 on an ephemeral
// port, hands the authorization URL to a function that opens the browser,
// waits for the redirect with the right state and exchanges the code.
//
//	tok, err := client.SignInLoopback(ctx, openBrowser)
//
// # Refresh
//
// Client.TokenSource returns an oauth2.TokenSource that refreshes the
// token (RFC 6749 §6) when it nears expiry, with one request however many
// goroutines ask, a hook that saves each new token before anyone uses it,
// and errors that say whether to sign in again (ErrSignInRequired) or try
// later (ErrTryLater):
//
//	src := client.TokenSource(tok.Token, pkce.OnRefresh(save))
//	httpClient := src.Client(ctx)
//
// Client.Revoke revokes a token (RFC 7009); TokenSource.SignOut revokes
// the source's refresh token and forgets it.
//
// # Client authentication
//
// The style is explicit and never probed: AuthClientSecretBasic (HTTP
// Basic with the id and secret form-encoded, RFC 6749 §2.3.1),
// AuthClientSecretPost (in the body), or AuthNone for public clients.
// Without WithAuthStyle, a client with a secret uses Basic and one without
// uses none.
//
// # Errors
//
// Errors say what broke and where the rule is written, since the package is
// also used as a strict client in tests of authorization servers. They
// never contain a secret, code, verifier or token.
//
//   - *CallbackError and *IssuerMismatchError: the redirect was wrong; no
//     token request was made. Match the cause with errors.Is (ErrStateMismatch,
//     ErrIssuerMismatch, ErrFlowExpired, ...).
//   - *AuthorizationError: the server sent error=... on the redirect.
//   - *TokenError: the token endpoint answered with an RFC 6749 §5.2 error;
//     errors.As also finds the *oauth2.RetrieveError.
//   - *ResponseError: the token endpoint broke the protocol (HTML instead
//     of JSON, no token_type, negative expires_in, an oversized body, ...).
//
// errors.Is(err, pkce.ErrInvalidGrant) and the other ErrorCode values work
// on both *AuthorizationError and *TokenError.
//
// # HTTP clients
//
// Token requests use, in order: an *http.Client stored in the context under
// oauth2.HTTPClient, the one given to WithHTTPClient, http.DefaultClient.
// Whatever the client, redirects from the token endpoint are not followed
// and response bodies are bounded (WithMaxResponseBytes).
package pkce
