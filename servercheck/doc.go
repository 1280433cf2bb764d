// Package servercheck runs a battery of checks against a live
// authorization server: the rules of the OAuth RFCs that a client using
// the authorization code grant with PKCE relies on. Each check is named
// after the one rule it tests (RFC and section), graded MUST or SHOULD,
// and ends in pass, fail or not applicable, with why and the requests and
// answers it made, secrets redacted.
//
// From a test, one subtest per check:
//
//	func TestAuthorizationServer(t *testing.T) {
//		servercheck.Run(t, servercheck.Config{
//			Issuer: "https://as.example",
//			Clients: []servercheck.Registration{
//				{ID: "spa", Method: servercheck.AuthNone, RedirectURI: "http://127.0.0.1:8400/callback"},
//			},
//			SignIn: servercheck.LoginForm{Fields: map[string]string{"username": "ci", "password": os.Getenv("CI_PASSWORD")}}.SignIn,
//		})
//	}
//
// From CI without Go code, the command github.com/pkcekit/pkce/servercheck/cmd/servercheck
// reads the same configuration from a JSON file and writes the report as
// a table, JSON or JUnit XML, exiting 1 when a MUST fails.
//
// The checks need a way to sign in without a person: a SignIn from the
// authorization URL to the redirect back. FollowRedirects suits servers
// that approve at once, LoginForm plain HTML login and consent forms; for
// pages that need JavaScript, write a SignIn that drives a headless
// browser.
//
// The package is named for what it does to a server, as httptest is for
// what it serves: servercheck.Run reads as the sentence it runs.
package servercheck
