package protected_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeadlessSignInErrorsDoNotQuoteTheRequest: when a hop of the
// headless browser fails, the error names the origin it failed at and
// the cause, but not the URL's query, which carries the flow's state and
// code challenge on the way to the authorization endpoint and the code on
// the way back (THREATS.md: no code or state in an error; an injected
// code needs only the state).
func TestHeadlessSignInErrorsDoNotQuoteTheRequest(t *testing.T) {
	const code = "code-issued-by-the-server"
	tests := []struct {
		name      string
		authorize func(t *testing.T, dead string) http.HandlerFunc // nil: the endpoint is down
	}{
		{"an unreachable authorization endpoint does not get the state into the error", nil},
		{"a redirect back to an unreachable callback does not get the code or the state into the error",
			func(t *testing.T, dead string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, dead+"/callback?code="+code+"&state="+url.QueryEscape(r.URL.Query().Get("state")), http.StatusFound)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dead := newDocServer(t)
			deadURL := dead.URL
			dead.Close()
			as := newDocServer(t)
			authorizeURL := deadURL + "/authorize"
			var states []string
			if tt.authorize != nil {
				authorizeURL = as.URL + "/authorize"
				h := tt.authorize(t, deadURL)
				as.set("/authorize", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					states = append(states, r.URL.Query().Get("state"))
					h(w, r)
				}))
			}
			as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, map[string]any{"authorization_endpoint": authorizeURL}))
			api := newDocServer(t)
			protectedAPI(api, as.URL, nil, nil)
			tr := &protected.Transport{PreRegistered: preRegistered, SignIn: protected.HeadlessSignIn(nil)}

			_, err := (&http.Client{Transport: tr}).Get(api.URL + "/mcp")
			require.Error(t, err)
			assert.Contains(t, err.Error(), deadURL, "the origin that failed is named")
			assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "the cause is kept: %v", err)
			var ue *url.Error
			assert.True(t, errors.As(err, &ue))
			for _, s := range []string{"state=", "code_challenge", code} {
				assert.NotContains(t, err.Error(), s)
			}
			for _, s := range states {
				require.NotEmpty(t, s)
				assert.NotContains(t, err.Error(), s)
			}
		})
	}
}

// TestHeadlessSignInIsBoundedWithoutADeadline: an authorization endpoint
// that never answers does not hold a headless sign-in whose context has
// no deadline for ever (and with it every request waiting to sign in).
func TestHeadlessSignInIsBoundedWithoutADeadline(t *testing.T) {
	defer protected.SetHeadlessTimeout(200 * time.Millisecond)()
	stop := make(chan struct{})
	defer close(stop)
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	as.set("/authorize", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	api := newDocServer(t)
	protectedAPI(api, as.URL, nil, nil)
	hc := &http.Client{Transport: &protected.Transport{PreRegistered: preRegistered, SignIn: protected.HeadlessSignIn(nil)}}
	done := make(chan error, 1)
	go func() {
		_, err := hc.Get(api.URL + "/mcp") // context.Background: no deadline
		done <- err
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(10 * time.Second): // a hang
		t.Error("the headless sign-in still waits for an authorization endpoint that never answers")
	}
}

// TestHeadlessSignInDoesNotFollowARemoteServerToLocalAddresses: an
// authorization server on the network cannot send the headless browser
// to this machine or a private network (cloud metadata, a local admin
// page) by redirecting it there; only the loopback receiver is followed
// (THREATS.md, promise 3).
func TestHeadlessSignInDoesNotFollowARemoteServerToLocalAddresses(t *testing.T) {
	for _, target := range []string{
		"http://169.254.169.254/latest/meta-data/iam",
		"http://127.0.0.2:9/admin/shutdown",
		"https://10.0.0.7/internal",
		"http://intranet/wiki",
	} {
		t.Run("a redirect to "+target+" is not followed", func(t *testing.T) {
			r := newRemote(t)
			r.set("as.example", "/.well-known/oauth-authorization-server", asMetadata("https://as.example", nil))
			r.set("as.example", "/authorize", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				http.Redirect(w, req, target+"?state="+req.URL.Query().Get("state"), http.StatusFound)
			}))
			r.set("api.example", "/.well-known/oauth-protected-resource/mcp", map[string]any{"resource": "https://api.example/mcp",
				"authorization_servers": []string{"https://as.example"}})
			r.set("api.example", "/mcp", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
			}))
			// The headless browser reaches the pretend network and this
			// machine's 127.0.0.1, where the receiver listens.
			browser := r.transport()
			dial := browser.DialContext
			browser.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				if host, _, _ := net.SplitHostPort(addr); host == "127.0.0.1" {
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				}
				return dial(ctx, network, addr)
			}
			tr := &protected.Transport{PreRegistered: preRegistered, Base: r.transport(), HTTPClient: r.client(),
				SignIn: protected.HeadlessSignIn(&http.Client{Transport: browser})}
			_, err := (&http.Client{Transport: tr}).Get("https://api.example/mcp")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "not followed")
			assert.NotContains(t, err.Error(), "state=")
			assert.Empty(t, r.local(), "nothing dialled on this machine or a private network")
		})
	}
}
