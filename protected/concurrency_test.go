package protected_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// TestTransportWaitForAnotherSignInHonoursTheContext: a request that
// finds another request signing in waits for it only as long as its own
// context allows; a sign-in that takes long (a person away from the
// browser) does not make every other request outlive its deadline.
func TestTransportWaitForAnotherSignInHonoursTheContext(t *testing.T) {
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	api := newDocServer(t)
	protectedAPI(api, as.URL, nil, nil)
	api.set("/other", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	// The second request's caller gives up as its 401 arrives, while the
	// first sign-in goes on.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inside, release := make(chan struct{}), make(chan struct{})
	tr := &protected.Transport{PreRegistered: preRegistered,
		SignIn: func(context.Context, *pkce.Client) (*pkce.Token, error) {
			close(inside)
			<-release
			return nil, errors.New("the person closed the browser")
		},
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if r.URL.Path == "/other" {
				cancel()
			}
			return resp, err
		}),
	}
	first := make(chan error, 1)
	go func() {
		_, err := (&http.Client{Transport: tr}).Get(api.URL + "/mcp")
		first <- err
	}()
	<-inside

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/other", nil)
	require.NoError(t, err)
	second := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		second <- err
	}()
	select {
	case err := <-second:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second): // a hang: the second request waits for the first sign-in
		t.Error("the second request still waits for the first one's sign-in after its context ended")
	}
	close(release)
	assert.Error(t, <-first)
}

// TestTransportConcurrentRequestsWhileTheServerForgetsTheRegistration:
// requests sent at once, while the server refuses the refreshes of a
// dynamic registration it forgot, share the Transport's sessions without
// a data race (run under -race, as CI does): one request marks the
// session rejected while another copies it to sign in again.
func TestTransportConcurrentRequestsWhileTheServerForgetsTheRegistration(t *testing.T) {
	for round := range 10 {
		as := newDocServer(t)
		registrar(t, as, "dcr")
		api := newDocServer(t)
		acceptingAPI(api, func() string { return as.URL }, func() string { return "none of them" })
		signIn := func(context.Context, *pkce.Client) (*pkce.Token, error) {
			return &pkce.Token{Token: &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt",
				Expiry: time.Now().Add(-time.Hour)}}, nil // refreshed before use, and refused
		}
		hc := &http.Client{Transport: &protected.Transport{SignIn: signIn}}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 3 {
					resp, err := hc.Get(api.URL + "/mcp")
					if assert.NoError(t, err, "round %d", round) {
						resp.Body.Close()
						assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the API accepts no token")
					}
				}
			})
		}
		wg.Wait()
	}
}

// TestTransportDoesNotHangOnAnEndlessChallengeBody: the body of a 401
// that the Transport reads away before it sends the request again may
// never end (a hostile or broken API trickling bytes); the request,
// whose context has no deadline, still gets its answer.
func TestTransportDoesNotHangOnAnEndlessChallengeBody(t *testing.T) {
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	api := newDocServer(t)
	protectedAPI(api, as.URL, nil, nil)
	stop := make(chan struct{})
	defer close(stop)
	api.set("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+api.URL+`/.well-known/oauth-protected-resource/mcp"`)
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte("a body that never ends"))
		w.(http.Flusher).Flush()
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	stub := &stubSignIn{}
	hc := &http.Client{Transport: &protected.Transport{SignIn: stub.signIn(t), PreRegistered: preRegistered}}
	done := make(chan error, 1)
	go func() {
		resp, err := hc.Get(api.URL + "/mcp")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second): // a hang: the 401's body is read to its end
		t.Error("the request still waits for the end of the 401's body")
	}
	assert.Len(t, stub.ids, 1)
}

// giveUpKey marks the request whose caller gives up as its answer
// arrives.
type giveUpKey struct{}

// TestTransportReturnsWhenASignInIgnoresTheContext: a SignIn of the
// application's that ignores its context (blocks on something else)
// does not hold the request past its context: the request fails with
// the context's error. The sign-in still counts as running: no other
// sign-in starts until it returns, so that sign-ins stay one at a time.
func TestTransportReturnsWhenASignInIgnoresTheContext(t *testing.T) {
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	api := newDocServer(t)
	protectedAPI(api, as.URL, nil, nil)
	var calls atomic.Int32
	inside, release := make(chan struct{}, 3), make(chan struct{})
	tr := &protected.Transport{PreRegistered: preRegistered,
		SignIn: func(context.Context, *pkce.Client) (*pkce.Token, error) {
			calls.Add(1)
			inside <- struct{}{}
			<-release // ignores its context
			return stubToken(""), nil
		},
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if giveUp, ok := r.Context().Value(giveUpKey{}).(context.CancelFunc); ok {
				giveUp()
			}
			return resp, err
		}),
	}
	hc := &http.Client{Transport: tr}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/mcp", nil)
	require.NoError(t, err)
	first := make(chan error, 1)
	go func() {
		_, err := hc.Do(req)
		first <- err
	}()
	<-inside
	cancel()
	select {
	case err := <-first:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second): // a hang
		close(release)
		t.Fatal("the request still waits for a SignIn that ignores its context")
	}

	// A request whose caller gives up as its 401 arrives, while the
	// abandoned sign-in still runs, does not start a second one.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	req2, err := http.NewRequestWithContext(context.WithValue(ctx2, giveUpKey{}, cancel2), http.MethodGet, api.URL+"/mcp", nil)
	require.NoError(t, err)
	_, err = hc.Do(req2)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int32(1), calls.Load(), "no second sign-in while the first runs")

	close(release)
	getOK(t, hc, api.URL+"/mcp") // the slot is free again once the SignIn returned
	assert.Equal(t, int32(2), calls.Load())
}
