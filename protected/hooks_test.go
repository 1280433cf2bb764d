package protected_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// panickingRegistrations is a RegistrationStore whose Load or Save
// panics with what it holds.
type panickingRegistrations struct{ load, save bool }

func (p panickingRegistrations) LoadRegistration(context.Context, string) (*protected.Registration, error) {
	if p.load {
		panic("registration store bug")
	}
	return nil, nil
}

func (p panickingRegistrations) SaveRegistration(_ context.Context, r *protected.Registration) error {
	if p.save {
		panic("cannot save " + r.ClientSecret)
	}
	return nil
}

// panickingStore is a Store whose LoadToken or SaveToken panics with the
// bytes it was handed or holds.
type panickingStore struct {
	pkce.Store
	load, save bool
}

func (s panickingStore) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	if s.load {
		panic("corrupt entry for " + subject)
	}
	return s.Store.LoadToken(ctx, subject)
}

func (s panickingStore) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	if s.save {
		panic(fmt.Sprintf("cannot save %s", token))
	}
	return s.Store.SaveToken(ctx, subject, old, token)
}

// issuedSecret is the client secret the registrar of these tests issues.
const issuedSecret = "s3cret-issued-at-registration"

// TestTransportHookPanicIsAnError: a panic in the application's code that
// the Transport calls (its hooks, its stores) fails the request with an
// error that names the code, and does not crash the program (THREATS.md:
// a careless application); the panic's value never carries a secret.
func TestTransportHookPanicIsAnError(t *testing.T) {
	tests := []struct {
		name  string
		setup func(tr *protected.Transport)
		names string
	}{
		{"a panicking PreRegistered is an error", func(tr *protected.Transport) {
			tr.PreRegistered = func(string) *protected.Registration { panic("pre-registration bug") }
		}, "PreRegistered panicked"},
		{"a panicking AllowMetadataURL is an error", func(tr *protected.Transport) {
			tr.AllowMetadataURL = func(_, _ *url.URL) error { panic("metadata rule bug") }
		}, "AllowMetadataURL panicked"},
		{"a panicking RegistrationStore.LoadRegistration is an error", func(tr *protected.Transport) {
			tr.Registrations = panickingRegistrations{load: true}
		}, "RegistrationStore panicked"},
		{"a panicking RegistrationStore.SaveRegistration is an error", func(tr *protected.Transport) {
			tr.Registrations = panickingRegistrations{save: true}
		}, "RegistrationStore panicked"},
		{"a Store panicking on LoadToken is an error", func(tr *protected.Transport) {
			tr.Store = panickingStore{Store: pkce.NewMemoryStore(), load: true}
		}, "Store panicked"},
		{"a Store panicking on SaveToken is an error", func(tr *protected.Transport) {
			tr.Store = panickingStore{Store: pkce.NewMemoryStore(), save: true}
		}, "Store panicked"},
		{"a panicking SignIn is an error", func(tr *protected.Transport) {
			tr.SignIn = func(context.Context, *pkce.Client) (*pkce.Token, error) {
				panic("sign-in bug with client secret " + issuedSecret)
			}
		}, "SignIn panicked"},
		{"a panicking ChooseAuthorizationServer is an error", func(tr *protected.Transport) {
			tr.ChooseAuthorizationServer = func(*protected.ResourceMetadata) (string, error) { panic("choice bug") }
		}, "ChooseAuthorizationServer panicked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newDocServer(t)
			as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, map[string]any{
				"registration_endpoint": as.URL + "/register", "token_endpoint_auth_methods_supported": []string{"client_secret_post"}}))
			as.set("/register", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, `{"client_id":"dcr-1","client_secret":%q,"token_endpoint_auth_method":"client_secret_post"}`, issuedSecret)
			}))
			api := newDocServer(t)
			protectedAPI(api, as.URL, nil, nil)
			tr := &protected.Transport{SignIn: func(context.Context, *pkce.Client) (*pkce.Token, error) {
				return &pkce.Token{Token: stubToken("").WithExtra(nil)}, nil
			}}
			tt.setup(tr)

			var err error
			require.NotPanics(t, func() { _, err = (&http.Client{Transport: tr}).Get(api.URL + "/mcp") })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.names)
			assert.NotContains(t, err.Error(), issuedSecret)
			assert.NotContains(t, err.Error(), stubTokenPrefix)
		})
	}
}

// TestTransportNilIsAnError: a nil *Transport in an http.Client fails
// each request with an error naming the mistake, instead of a nil
// pointer dereference.
func TestTransportNilIsAnError(t *testing.T) {
	var tr *protected.Transport
	req, err := http.NewRequest(http.MethodGet, "https://api.example/mcp", nil)
	require.NoError(t, err)
	var resp *http.Response
	require.NotPanics(t, func() { resp, err = tr.RoundTrip(req) })
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	assert.ErrorContains(t, err, "nil *protected.Transport")
}

// TestTransportMisuseNamesTheField: a Transport configured wrongly fails
// with an error that names the field to fix, not the Client the
// Transport built from it (THREATS.md, promise 5).
func TestTransportMisuseNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		setup func(tr *protected.Transport)
		want  string
	}{
		{"a nil option is named by its index in Transport.Options", func(tr *protected.Transport) {
			tr.PreRegistered = preRegistered
			tr.Options = []pkce.Option{pkce.WithPushedAuthorization(), nil}
		}, "Transport.Options[1] is nil"},
		{"pre-registered credentials without a client ID name PreRegistered", func(tr *protected.Transport) {
			tr.PreRegistered = func(string) *protected.Registration {
				return &protected.Registration{ClientSecret: "s3cret-of-the-app"}
			}
		}, "PreRegistered returned credentials without a ClientID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newDocServer(t)
			as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
			api := newDocServer(t)
			protectedAPI(api, as.URL, nil, nil)
			stub := &stubSignIn{}
			tr := &protected.Transport{SignIn: stub.signIn(t)}
			tt.setup(tr)
			_, err := (&http.Client{Transport: tr}).Get(api.URL + "/mcp")
			require.Error(t, err)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "s3cret-of-the-app")
			assert.Empty(t, stub.ids, "no sign-in")
		})
	}
}

// TestFunctionsWithZeroValuesAndNil: the package's functions given zero
// values and nil (a careless application) fail with an error, never a
// panic.
func TestFunctionsWithZeroValuesAndNil(t *testing.T) {
	ctx := context.Background()
	md := &pkce.Metadata{Issuer: "https://as.example", AuthorizationEndpoint: "https://as.example/a",
		TokenEndpoint: "https://as.example/t", RegistrationEndpoint: "https://as.example/register"}
	calls := []struct {
		name string
		call func() error
	}{
		{"Register with nil metadata fails", func() error { _, err := protected.Register(ctx, nil, protected.ClientMetadata{}); return err }},
		{"Register with zero client metadata fails", func() error { _, err := protected.Register(ctx, md, protected.ClientMetadata{}); return err }},
		{"FetchResourceMetadata of no URL fails", func() error { _, err := protected.FetchResourceMetadata(ctx, "", ""); return err }},
		{"DiscoverAuthorizationServer of no issuer fails", func() error { _, err := protected.DiscoverAuthorizationServer(ctx, ""); return err }},
		{"LoopbackSignIn with no opener and no client fails", func() error { _, err := protected.LoopbackSignIn(nil)(ctx, nil); return err }},
		{"HeadlessSignIn with no client fails", func() error { _, err := protected.HeadlessSignIn(nil)(ctx, nil); return err }},
		{"HeadlessSignIn with a zero client fails", func() error { _, err := protected.HeadlessSignIn(nil)(ctx, &pkce.Client{}); return err }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = tt.call() })
			assert.Error(t, err)
		})
	}
	t.Run("a nil Registration prints without panicking", func(t *testing.T) {
		var r *protected.Registration
		require.NotPanics(t, func() { _ = fmt.Sprintf("%v %+v %s", r, r, r) })
	})
}

// unreachableStore is a Store whose every read fails, as Redis does when
// it is down.
type unreachableStore struct{ pkce.Store }

func (unreachableStore) LoadToken(context.Context, string) ([]byte, error) {
	return nil, errors.New("dial tcp 10.0.0.5:6379: connection refused")
}

// TestTransportDoesNotSignInWhenTheStoreIsDown: a Store that cannot be
// read says nothing about the token (see pkce.Store): the request fails
// with a try-later error instead of asking the person to sign in again,
// which could not even be saved (THREATS.md, promise 1).
func TestTransportDoesNotSignInWhenTheStoreIsDown(t *testing.T) {
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	api := newDocServer(t)
	protectedAPI(api, as.URL, nil, nil)
	stub := &stubSignIn{}
	tr := &protected.Transport{SignIn: stub.signIn(t), PreRegistered: preRegistered, Store: unreachableStore{pkce.NewMemoryStore()}}
	_, err := (&http.Client{Transport: tr}).Get(api.URL + "/mcp")
	require.Error(t, err)
	assert.ErrorIs(t, err, pkce.ErrTryLater)
	assert.Empty(t, stub.ids, "no sign-in")
}
