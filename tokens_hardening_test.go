package pkce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// Finding 1: a refresh that had to wait for another replica's lease
// still gets its whole timeout at the server.
func TestTokensRefreshDeadlineStartsWhenTheRequestIsSent(t *testing.T) {
	s := newTokensStack(t, pkce.WithRefreshTimeout(time.Second))
	ctx := context.Background()
	// A replica that died holding the lease: it ends in 1.2 s, after this
	// source's refresh timeout would have run out had it started at once.
	held, err := s.store.Lease(ctx, "alice", "a killed replica", 1200*time.Millisecond)
	require.NoError(t, err)
	require.True(t, held)
	s.srv.SetFaults(pkcetest.Faults{Delay: 400 * time.Millisecond})

	src, err := s.tokens.Source(ctx, "alice")
	require.NoError(t, err)
	tok, err := src.TokenContext(ctx)
	require.NoError(t, err, "the refresh waited for the lease, then had its whole timeout")
	assert.NotEmpty(t, tok.AccessToken)
	assert.Equal(t, 1, s.srv.RefreshRequests())
}

// The OnRefresh hook of a refresh that waited for another replica's
// lease runs under a live context, not the deadline the wait outlasted.
func TestTokensHookAfterALeaseWaitHasALiveContext(t *testing.T) {
	var hookErr error
	hooked := 0
	s := newTokensStack(t, pkce.WithRefreshTimeout(time.Second), pkce.OnRefresh(func(ctx context.Context, _ *pkce.Token) error {
		hooked++
		hookErr = ctx.Err()
		return ctx.Err()
	}))
	ctx := context.Background()
	held, err := s.store.Lease(ctx, "alice", "a killed replica", 1200*time.Millisecond)
	require.NoError(t, err)
	require.True(t, held)

	src, err := s.tokens.Source(ctx, "alice")
	require.NoError(t, err)
	tok, err := src.TokenContext(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
	assert.Equal(t, 1, hooked)
	assert.NoError(t, hookErr, "the hook's context")
}

// Finding 2: the first refusal of a stored refresh token is the last
// request with it: every replica then says sign-in-required without one.
func TestTokensDeadStoredRefreshTokenIsPresentedOnce(t *testing.T) {
	s := newTokensStack(t)
	ctx := context.Background()
	stored, err := s.store.LoadToken(ctx, "alice")
	require.NoError(t, err)
	// A replica killed between the server's rotation and its save.
	src, err := s.tokens.Source(ctx, "alice")
	require.NoError(t, err)
	_, err = s.client.Refresh(ctx, storedRefreshToken(t, stored))
	require.NoError(t, err)

	replicas := []*pkce.Tokens{s.tokens}
	for range 2 {
		other, err := s.client.Tokens(s.store)
		require.NoError(t, err)
		replicas = append(replicas, other)
	}
	_, err = src.TokenContext(ctx)
	assertOneClass(t, err, pkce.ErrSignInRequired)
	for i, r := range replicas {
		for range 3 {
			src, err := r.Source(ctx, "alice")
			if err == nil {
				_, err = src.TokenContext(ctx)
			}
			assertOneClass(t, err, pkce.ErrSignInRequired)
			if i > 0 { // the first keeps the server's answer
				assert.ErrorContains(t, err, "refused", "replica %d", i)
			}
		}
	}
	assert.Equal(t, 2, s.srv.RefreshRequests(), "the rotation, and the dead token presented once")

	// Signing in again replaces the tombstone.
	again := signInWith(t, s.srv, s.client)
	require.NoError(t, s.tokens.Save(ctx, "alice", again))
	src, err = replicas[1].Source(ctx, "alice")
	require.NoError(t, err)
	tok, err := src.TokenContext(ctx)
	require.NoError(t, err)
	assert.Equal(t, again.AccessToken, tok.AccessToken)
}

// Finding 2: the tombstone is written with compare-and-set: a token
// saved while the refused refresh was in flight is never touched.
func TestTokensDeadRefreshTokenNeverBuriesANewerOne(t *testing.T) {
	s := newTokensStack(t)
	ctx := context.Background()
	stored, err := s.store.LoadToken(ctx, "alice")
	require.NoError(t, err)
	_, err = s.client.Refresh(ctx, storedRefreshToken(t, stored)) // rotated away
	require.NoError(t, err)
	again := signInWith(t, s.srv, s.client)
	// The new sign-in is saved by another replica while the refused
	// request is at the server.
	s.srv.SetFaults(pkcetest.Faults{Delay: 300 * time.Millisecond})
	src, err := s.tokens.Source(ctx, "alice")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { _, err := src.TokenContext(ctx); done <- err }()
	waitUntil(t, func() bool { return s.srv.RefreshRequests() == 2 })
	other, err := s.client.Tokens(s.store)
	require.NoError(t, err)
	require.NoError(t, other.Save(ctx, "alice", again))
	assertOneClass(t, <-done, pkce.ErrSignInRequired)

	got, err := s.store.LoadToken(ctx, "alice")
	require.NoError(t, err)
	assert.Contains(t, string(got), again.RefreshToken, "the newer sign-in is kept")
}

// Finding 3: however the cache of sources changes while a refresh is in
// flight, a second source of the subject joins it instead of redeeming
// the same refresh token again.
func TestTokensOneRedemptionWhateverTheCacheDoes(t *testing.T) {
	s := newTokensStack(t, pkce.WithRefreshTimeout(20*time.Second))
	ctx := context.Background()
	s.srv.SetFaults(pkcetest.Faults{Delay: 4 * time.Second})
	first, err := s.tokens.Source(ctx, "alice")
	require.NoError(t, err)
	firstDone := make(chan error, 1)
	go func() { _, err := first.TokenContext(ctx); firstDone <- err }()
	waitUntil(t, func() bool { return s.srv.RefreshRequests() == 1 })

	// More subjects than the cache holds, each asked for: alice's source
	// is evicted.
	valid := &pkce.Token{Token: &oauth2.Token{AccessToken: "at", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}}
	for i := range 10_001 {
		subject := fmt.Sprint("user-", i)
		require.NoError(t, s.tokens.Save(ctx, subject, valid))
		_, err := s.tokens.Source(ctx, subject)
		require.NoError(t, err)
	}
	second, err := s.tokens.Source(ctx, "alice")
	require.NoError(t, err)
	require.NotSame(t, first, second, "the cache dropped the first source")
	select {
	case err := <-firstDone:
		require.FailNow(t, "the first refresh ended before the second source asked", "%v", err)
	default:
	}
	tok, err := second.TokenContext(ctx)
	require.NoError(t, err)
	require.NoError(t, <-firstDone)
	assert.Equal(t, 1, s.srv.RefreshRequests(), "one redemption of the refresh token")
	again, err := first.TokenContext(ctx)
	require.NoError(t, err)
	assert.Equal(t, again.AccessToken, tok.AccessToken)
}

// Finding 4: signing out while a refresh is in flight revokes what that
// refresh obtains, not only the token signed out.
func TestTokensSignOutRevokesWhatTheRefreshInFlightObtained(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var revoked []string
	var te *tokenEndpoint
	te = newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/revoke" {
			mu.Lock()
			revoked = append(revoked, te.last(t).form.Get("token"))
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
			return
		}
		<-release
		jsonResponse(200, `{"access_token":"AT-2","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-2"}`)(w, r)
	})
	c := clientFor(t, te, testSecret, pkce.WithRevocationURL(te.URL+"/revoke"))
	store := pkce.NewMemoryStore()
	tokens, err := c.Tokens(store)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, tokens.Save(ctx, "alice", &pkce.Token{Token: expiredToken()}))
	src, err := tokens.Source(ctx, "alice")
	require.NoError(t, err)
	go src.TokenContext(ctx)
	waitUntil(t, func() bool { return te.count() == 1 })

	signedOut := make(chan error, 1)
	go func() { signedOut <- tokens.SignOut(ctx, "alice") }()
	waitUntil(t, func() bool { b, _ := store.LoadToken(ctx, "alice"); return b == nil })
	close(release) // the refresh obtains RT-2 after the sign-out began
	require.NoError(t, <-signedOut)

	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, revoked, "RT-2", "the refresh token obtained in flight is revoked")
	assert.Contains(t, revoked, "old-refresh")
	stored, err := store.LoadToken(ctx, "alice")
	require.NoError(t, err)
	assert.Nil(t, stored, "the refresh in flight did not store its token again")
}

// Finding 5: a stored value that is no token asks for sign-in, and
// SignOut deletes it.
func TestTokensUndecodableStoredToken(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"truncated file", `{"access_token":"at","refresh_tok`},
		{"empty object", `{}`},
		{"not JSON", "\x00\x01garbage"},
		{"JSON of another type", `["at"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTokensStack(t)
			ctx := context.Background()
			src, err := s.tokens.Source(ctx, "alice") // loaded before the value was damaged
			require.NoError(t, err)
			_, err = s.store.SaveToken(ctx, "alice", nil, []byte(tc.value))
			require.NoError(t, err)

			_, err = src.TokenContext(ctx)
			assertOneClass(t, err, pkce.ErrSignInRequired)
			other, err := s.client.Tokens(s.store)
			require.NoError(t, err)
			_, err = other.Source(ctx, "alice")
			assertOneClass(t, err, pkce.ErrSignInRequired)
			assert.ErrorContains(t, err, "does not decode")
			assert.Zero(t, s.srv.RefreshRequests())

			assert.NoError(t, other.SignOut(ctx, "alice"))
			stored, err := s.store.LoadToken(ctx, "alice")
			require.NoError(t, err)
			assert.Nil(t, stored, "SignOut deleted the damaged value")
		})
	}
}

// Findings 6 and 7, through a source: a malformed error answer never ends
// the grant, however often it comes; the same refusal of the same refresh
// token after the back-off does.
func TestTokenSourceRepeatedRefusals(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		first  error
		second error
	}{
		{"malformed error answer (error and ERROR) is never terminal", `{"error":"temporarily_unavailable","ERROR":"invalid_grant"}`, pkce.ErrTryLater, pkce.ErrTryLater},
		{"invalid_request to the same refresh token for 10 minutes", `{"error":"invalid_request"}`, pkce.ErrTryLater, pkce.ErrSignInRequired},
		{"unauthorized_client for 10 minutes, nothing else served", `{"error":"unauthorized_client"}`, pkce.ErrClientRejected, pkce.ErrClientRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			te := newTokenEndpoint(t, jsonResponse(400, tc.answer))
			c := clientFor(t, te, testSecret, pkce.WithClock(clock.Now))
			src := source(t, c, &oauth2.Token{AccessToken: "a", RefreshToken: "old-refresh", Expiry: clock.Now().Add(-time.Second)})
			_, err := src.Token()
			assertOneClass(t, err, tc.first)
			clock.Advance(10 * time.Minute) // past any back-off, and the persistence rule
			_, err = src.Token()
			assertOneClass(t, err, tc.second)
			assert.Equal(t, 2, te.count())
		})
	}
}

// Finding 7: a client rejection repeated for one refresh token, while
// the client's other refreshes succeed, is about the token.
func TestRefreshClientRejectionBelievedOnlyWhenTheClientFailsElsewhere(t *testing.T) {
	clock := newFakeClock()
	var te *tokenEndpoint
	te = newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if te.last(t).form.Get("refresh_token") == "dead-refresh" {
			jsonResponse(400, `{"error":"unauthorized_client"}`)(w, r)
			return
		}
		jsonResponse(200, goodBody)(w, r)
	})
	c := clientFor(t, te, testSecret, pkce.WithClock(clock.Now))
	ctx := context.Background()
	_, err := c.Refresh(ctx, "dead-refresh")
	assertOneClass(t, err, pkce.ErrClientRejected)
	_, err = c.Refresh(ctx, "another-users-refresh")
	require.NoError(t, err)
	clock.Advance(2 * time.Second)
	_, err = c.Refresh(ctx, "dead-refresh")
	assertOneClass(t, err, pkce.ErrSignInRequired)
	assert.ErrorIs(t, err, pkce.ErrorCode("unauthorized_client"))
}

// Finding 17: zero values and nil pointers of TokenSource and Tokens fail
// with an error naming the constructor, never a panic.
func TestZeroTokenSourceAndTokens(t *testing.T) {
	ctx := context.Background()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(api.Close)
	var nilSource *pkce.TokenSource
	var nilTokens *pkce.Tokens
	var nilClient *pkce.Client
	tok := &pkce.Token{Token: &oauth2.Token{AccessToken: "at"}}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"TokenSource{}.Token", func() error { _, err := (&pkce.TokenSource{}).Token(); return err }, "Client.TokenSource"},
		{"TokenSource{}.TokenContext", func() error { _, err := (&pkce.TokenSource{}).TokenContext(ctx); return err }, "Client.TokenSource"},
		{"TokenSource{}.SignOut", func() error { return (&pkce.TokenSource{}).SignOut(ctx) }, "Client.TokenSource"},
		{"TokenSource{}.Client request", func() error {
			resp, err := (&pkce.TokenSource{}).Client(ctx).Get(api.URL)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}, "Client.TokenSource"},
		{"nil TokenSource.Token", func() error { _, err := nilSource.Token(); return err }, "Client.TokenSource"},
		{"nil TokenSource.SignOut", func() error { return nilSource.SignOut(ctx) }, "Client.TokenSource"},
		{"Tokens{}.Source", func() error { _, err := (&pkce.Tokens{}).Source(ctx, "alice"); return err }, "Client.Tokens"},
		{"Tokens{}.Save", func() error { return (&pkce.Tokens{}).Save(ctx, "alice", tok) }, "Client.Tokens"},
		{"Tokens{}.SignOut", func() error { return (&pkce.Tokens{}).SignOut(ctx, "alice") }, "Client.Tokens"},
		{"nil Tokens.Source", func() error { _, err := nilTokens.Source(ctx, "alice"); return err }, "Client.Tokens"},
		{"nil Client.Tokens", func() error { _, err := nilClient.Tokens(pkce.NewMemoryStore()); return err }, "New"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = tc.call() })
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	assert.Equal(t, "pkce.TokenSource(nil)", fmt.Sprint(nilSource))
}

// storedRefreshToken reads the refresh token out of a stored value.
func storedRefreshToken(t *testing.T, stored []byte) string {
	t.Helper()
	var v struct {
		RefreshToken string `json:"refresh_token"`
	}
	require.NoError(t, json.Unmarshal(stored, &v))
	require.NotEmpty(t, v.RefreshToken)
	return v.RefreshToken
}

// waitUntil polls cond; it fails the test after 20 s, a guard against a
// hang rather than a measurement.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			require.FailNow(t, "timed out waiting")
		}
	}
}
