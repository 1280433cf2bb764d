package pkce_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pkcekit/pkce/tolerate"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// Each tolerance has a row that fails without its option, one that passes
// with it, and rows showing that the option tolerates nothing else.

func TestTolerateTokenStatus(t *testing.T) {
	for _, tt := range []struct {
		name   string
		opts   []pkce.Option
		faults pkcetest.Faults
		wantIs error // nil: sign-in and refresh succeed
	}{
		{name: "201 is refused by default", faults: pkcetest.Faults{TokenSuccessStatus: http.StatusCreated},
			wantIs: pkce.ErrInvalidResponse},
		{name: "201 is accepted with tolerate.TokenStatus(201)", opts: []pkce.Option{tolerate.TokenStatus(http.StatusCreated)},
			faults: pkcetest.Faults{TokenSuccessStatus: http.StatusCreated}},
		{name: "200 is still accepted with the option", opts: []pkce.Option{tolerate.TokenStatus(http.StatusCreated)}},
		{name: "202 is refused when only 201 is accepted", opts: []pkce.Option{tolerate.TokenStatus(http.StatusCreated)},
			faults: pkcetest.Faults{TokenSuccessStatus: http.StatusAccepted}, wantIs: pkce.ErrInvalidResponse},
		{name: "a 201 form-encoded body is still refused", opts: []pkce.Option{tolerate.TokenStatus(http.StatusCreated)},
			faults: pkcetest.Faults{TokenSuccessStatus: http.StatusCreated, FormEncodedBody: true}, wantIs: pkce.ErrInvalidResponse},
		{name: "a 201 without token_type is still refused", opts: []pkce.Option{tolerate.TokenStatus(http.StatusCreated)},
			faults: pkcetest.Faults{TokenSuccessStatus: http.StatusCreated, OmitTokenType: true}, wantIs: pkce.ErrInvalidResponse},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := quirkServer(t, pkcetest.Config{})
			srv.SetFaults(tt.faults)
			client, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/cb",
				Endpoint: oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()}}, tt.opts...)
			require.NoError(t, err)

			ctx := context.Background()
			flow, err := client.Start(ctx)
			require.NoError(t, err)
			cb, err := srv.Authorize(ctx, flow.URL)
			require.NoError(t, err)
			req, err := cb.Request(ctx)
			require.NoError(t, err)
			tok, err := client.Finish(req, flow)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
				assert.Nil(t, tok)
				return
			}
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)

			refreshed, err := client.Refresh(ctx, tok.RefreshToken)
			require.NoError(t, err, "the refresh grant is tolerated the same way")
			assert.NotEmpty(t, refreshed.AccessToken)
		})
	}
}

func TestTolerateTokenStatusRefusesOtherStatuses(t *testing.T) {
	for _, statuses := range [][]int{nil, {200}, {204}, {199}, {300}, {400}, {201, 500}} {
		_, err := pkce.New(publicConfigWithEndpoints(), tolerate.TokenStatus(statuses...))
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig, "%v", statuses)
	}
}

func publicConfigWithEndpoints() *oauth2.Config {
	cfg := publicConfig()
	cfg.Endpoint = oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token"}
	return cfg
}

func TestTolerateIssuerTrailingSlash(t *testing.T) {
	for _, tt := range []struct {
		name string
		// published is the metadata's issuer and asked the issuer given to
		// NewFromIssuer, both as functions of the server's issuer.
		published, asked func(issuer string) string
		tolerate         bool
		wantErr          bool
	}{
		{name: "metadata adds a slash: refused by default", published: slash, asked: same, wantErr: true},
		{name: "metadata adds a slash: accepted with the option", published: slash, asked: same, tolerate: true},
		{name: "metadata drops the slash: refused by default", published: same, asked: slash, wantErr: true},
		{name: "metadata drops the slash: accepted with the option", published: same, asked: slash, tolerate: true},
		{name: "two slashes: refused with the option", published: func(s string) string { return s + "//" }, asked: same,
			tolerate: true, wantErr: true},
		{name: "another path: refused with the option", published: func(s string) string { return s + "x/" }, asked: same,
			tolerate: true, wantErr: true},
		{name: "another case: refused with the option", published: func(s string) string { return strings.ToUpper(s) + "/" }, asked: same,
			tolerate: true, wantErr: true},
		{name: "identical issuers need no option", published: same, asked: same},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := quirkServer(t, pkcetest.Config{PathPrefix: "/tenant"})
			published := tt.published(srv.Issuer())
			if published != srv.Issuer() {
				srv.SetFaults(pkcetest.Faults{MetadataIssuer: published})
			}
			var opts []pkce.Option
			if tt.tolerate {
				opts = append(opts, tolerate.IssuerTrailingSlash())
			}
			client, err := pkce.NewFromIssuer(context.Background(), tt.asked(srv.Issuer()), publicConfig(), opts...)
			if tt.wantErr {
				require.Error(t, err)
				assert.ErrorIs(t, err, pkce.ErrIssuerMismatch)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, published, client.Metadata().Issuer, "the published issuer is used verbatim")
		})
	}
}

func slash(s string) string { return s + "/" }
func same(s string) string  { return s }

func TestIssuerTrailingSlashToleranceUsesThePublishedIssuerForIss(t *testing.T) {
	srv := quirkServer(t, pkcetest.Config{SendIssuer: true})
	published := srv.Issuer() + "/"

	for _, tt := range []struct {
		name    string
		iss     string
		wantErr bool
	}{
		{name: "iss equal to the published issuer", iss: published},
		{name: "iss equal to the issuer asked for", iss: srv.Issuer(), wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetFaults(pkcetest.Faults{MetadataIssuer: published, IssuerOverride: tt.iss})
			client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), publicConfig(), tolerate.IssuerTrailingSlash())
			require.NoError(t, err)

			ctx := context.Background()
			flow, err := client.Start(ctx)
			require.NoError(t, err)
			cb, err := srv.Authorize(ctx, flow.URL)
			require.NoError(t, err)
			req, err := cb.Request(ctx)
			require.NoError(t, err)
			before := srv.TokenRequests()
			_, err = client.Finish(req, flow)
			if tt.wantErr {
				assert.ErrorIs(t, err, pkce.ErrIssuerMismatch, "RFC 9207 §2.4 stays exact")
				assert.Equal(t, before, srv.TokenRequests(), "no token request")
				return
			}
			assert.NoError(t, err)
		})
	}
}

func TestDiscoverStaysExact(t *testing.T) {
	srv := quirkServer(t, pkcetest.Config{})
	srv.SetFaults(pkcetest.Faults{MetadataIssuer: srv.Issuer() + "/"})
	_, err := pkce.Discover(context.Background(), srv.Issuer())
	assert.ErrorIs(t, err, pkce.ErrIssuerMismatch, "Discover has no options; the tolerance is NewFromIssuer's")
}
