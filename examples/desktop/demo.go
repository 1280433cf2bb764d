package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// The -demo mode signs in to an authorization server embedded in the
// process (pkcetest). That server is new on every run and forgets the
// grants of the last one, yet a second -demo run should show what a real
// provider does with a stored token: refresh it. So the demo
//
//   - keeps its token apart from a real sign-in (demo-token.json) and
//     labels it with demoProvider rather than a token URL, whose port
//     changes from run to run;
//   - treats a stored token as expired, since its access token died with
//     the last run's server, so that it is refreshed at once;
//   - puts a small front before the token endpoint that honours, once,
//     the refresh token the last run saved: it signs the demo user in
//     behind the scenes and refreshes that new grant instead, so the
//     program gets a real, rotated token from the embedded server.
//
// -demo -logout revokes at a server that never knew the token, which
// answers 200 as RFC 7009 §2.2 asks for any invalid token. None of this is
// needed with a real provider, which remembers its grants.

// demoProvider labels the demo's stored token in place of a token URL.
const demoProvider = "embedded demo server"

const demoClientID = "desktop-demo"

// demoServer is the embedded authorization server and the front of its
// token endpoint.
type demoServer struct {
	srv      *pkcetest.Server
	front    *http.Server
	scopes   []string
	mu       sync.Mutex
	previous string // the refresh token the last run saved, until used
}

// startDemoServer starts the embedded server, with a public client
// registered for loopback redirects and rotating refresh tokens, and points
// o at it. previous is the token the last demo run saved, or nil.
func startDemoServer(o *options, previous *oauth2.Token) (*demoServer, error) {
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{
			ID:           demoClientID,
			Method:       pkcetest.MethodNone,
			RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback"},
		}},
		SendIssuer: true,
		Rotate:     true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, err
	}
	if o.scopes == "" {
		o.scopes = "openid offline_access"
	}
	d := &demoServer{srv: srv, scopes: scopes(o.scopes)}
	if previous != nil {
		d.previous = previous.RefreshToken
	}
	d.front = &http.Server{Handler: http.HandlerFunc(d.token), ReadHeaderTimeout: 10 * time.Second}
	go d.front.Serve(ln)

	tokenURL, _ := url.Parse(srv.TokenURL())
	o.authURL, o.issuer = srv.AuthURL(), srv.Issuer()
	o.tokenURL = "http://" + ln.Addr().String() + tokenURL.Path
	o.revocationURL = srv.RevocationURL()
	o.endSessionURL = srv.EndSessionURL()
	o.clientID, o.clientSecret = demoClientID, ""
	o.redirectURL = "http://127.0.0.1/callback"
	if o.resourceURL == "" {
		o.resourceURL = srv.ResourceURL()
	}
	return d, nil
}

func (d *demoServer) Close() {
	d.front.Close()
	d.srv.Close()
}

// token forwards a token request to the embedded server, replacing the
// last run's refresh token with one of a fresh grant.
func (d *demoServer) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	if form.Get("grant_type") == "refresh_token" && d.takePrevious(form.Get("refresh_token")) {
		fresh, err := d.signInBehindTheScenes(r.Context())
		if err != nil {
			http.Error(w, "demo: "+err.Error(), http.StatusBadGateway)
			return
		}
		form.Set("refresh_token", fresh)
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, d.srv.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", r.Header.Get("Accept"))
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := d.srv.Client().Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Cache-Control", "Pragma", "WWW-Authenticate"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func (d *demoServer) takePrevious(rt string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rt == "" || rt != d.previous {
		return false
	}
	d.previous = ""
	return true
}

// signInBehindTheScenes signs the demo user in to the embedded server,
// with pkcetest playing the browser, and returns the new refresh token.
func (d *demoServer) signInBehindTheScenes(ctx context.Context) (string, error) {
	c, err := pkce.New(&oauth2.Config{
		ClientID:    demoClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: d.srv.AuthURL(), TokenURL: d.srv.TokenURL()},
		RedirectURL: "http://127.0.0.1/callback",
		Scopes:      d.scopes,
	}, pkce.WithIssuer(d.srv.Issuer()))
	if err != nil {
		return "", err
	}
	f, err := c.Start(ctx)
	if err != nil {
		return "", err
	}
	cb, err := d.srv.Authorize(ctx, f.URL)
	if err != nil {
		return "", err
	}
	r, err := cb.Request(ctx)
	if err != nil {
		return "", err
	}
	tok, err := c.Finish(r, f)
	if err != nil {
		return "", err
	}
	if tok.RefreshToken == "" {
		return "", fmt.Errorf("the embedded server issued no refresh token")
	}
	return tok.RefreshToken, nil
}
