//go:build unix

package filestore_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/filestore"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/pkcetest"
)

const (
	cliProcesses = 8
	cliCallers   = 10 // goroutines per process
)

// cliOutcome is what one invocation of a command-line tool reports.
type cliOutcome struct {
	OK, SignIn, Later, Other int
	AccessTokens             []string // the distinct access tokens handed out
	Errors                   []string
	Reads, TornReads         int // reads of the token file while the callers ran
}

// cliClient is the tool's public client, made from the issuer's metadata.
func cliClient(t *testing.T, issuer string) *pkce.Client {
	t.Helper()
	c, err := pkce.NewFromIssuer(context.Background(), issuer,
		&oauth2.Config{ClientID: "cli", RedirectURL: "http://127.0.0.1/cb"})
	require.NoError(t, err)
	return c
}

// parsesAsToken reports whether a stored token is whole: JSON with an
// access token.
func parsesAsToken(b []byte) bool {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	return json.Unmarshal(b, &tok) == nil && tok.AccessToken != ""
}

// Eight invocations of a command-line tool start at once and find the
// one stored token expired: one refresh reaches a server that rotates
// refresh tokens, every invocation gets the new token, nobody ever reads
// a torn token file, and the files stay private.
func TestRefreshAcrossCLIProcesses(t *testing.T) {
	ctx := context.Background()
	if storetest.Role() == "cli" {
		s, err := filestore.New(os.Getenv("STORE_DIR"))
		require.NoError(t, err)
		tokens, err := cliClient(t, os.Getenv("ISSUER")).Tokens(s)
		require.NoError(t, err)
		storetest.AwaitStart()
		storetest.Report("%s", runCLICallers(t, s, tokens))
		return
	}
	srv := pkcetest.NewServer(pkcetest.Config{
		Rotate:     true,
		SendIssuer: true,
		Clients:    []pkcetest.Client{{ID: "cli", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/cb"}}},
	})
	t.Cleanup(srv.Close)
	client := cliClient(t, srv.Issuer())
	dir := filepath.Join(t.TempDir(), "tokens")
	s, err := filestore.New(dir)
	require.NoError(t, err)
	tokens, err := client.Tokens(s)
	require.NoError(t, err)

	flow, err := client.Start(ctx)
	require.NoError(t, err)
	cb, err := srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	signedIn, err := client.Finish(req, flow)
	require.NoError(t, err)
	stale := *signedIn.Token
	stale.Expiry = time.Now().Add(-time.Minute)
	require.NoError(t, tokens.Save(ctx, "default", &pkce.Token{Token: &stale}))

	ps := storetest.StartProcesses(t, cliProcesses, "cli", "STORE_DIR="+dir, "ISSUER="+srv.Issuer())
	ps.Start()
	var got cliOutcome
	distinct := map[string]bool{}
	for i, lines := range ps.Wait(t) {
		require.Len(t, lines, 1, "child %d reports once", i)
		var o cliOutcome
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &o), "child %d reported %q", i, lines[0])
		assert.Equal(t, cliCallers, o.OK, "callers of child %d served; errors: %q", i, o.Errors)
		assert.NotZero(t, o.Reads, "child %d read the token file", i)
		got.SignIn, got.Later, got.Other, got.TornReads = got.SignIn+o.SignIn, got.Later+o.Later, got.Other+o.Other, got.TornReads+o.TornReads
		for _, tok := range o.AccessTokens {
			distinct[tok] = true
		}
	}

	assert.Equal(t, 1, srv.RefreshRequests(), "refresh requests from %d processes", cliProcesses)
	assert.Zero(t, got.SignIn, "callers told to sign in again")
	assert.Zero(t, got.Later, "callers told to try later")
	assert.Zero(t, got.Other, "other errors")
	assert.Zero(t, got.TornReads, "torn reads of the token file")
	assert.Len(t, distinct, 1, "distinct access tokens handed out")

	stored, err := s.LoadToken(ctx, "default")
	require.NoError(t, err)
	require.True(t, parsesAsToken(stored), "the token file parses")
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	require.NoError(t, json.Unmarshal(stored, &tok))
	assert.True(t, distinct[tok.AccessToken], "the stored access token is the one handed out")
	_, err = client.Refresh(ctx, tok.RefreshToken)
	assert.NoError(t, err, "the stored refresh token is the live one")
	assertPrivate(t, dir)
}

// runCLICallers is a child's part in TestRefreshAcrossCLIProcesses: its
// callers ask for the token while another goroutine keeps reading the
// token file, as a second tool would.
func runCLICallers(t *testing.T, s *filestore.Store, tokens *pkce.Tokens) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out cliOutcome
	var mu sync.Mutex
	var done atomic.Bool
	var reads, torn atomic.Int64
	var reader sync.WaitGroup
	reader.Go(func() {
		for first := true; first || !done.Load(); first = false {
			b, err := s.LoadToken(ctx, "default")
			reads.Add(1)
			if err != nil || !parsesAsToken(b) {
				torn.Add(1)
			}
		}
	})
	var callers sync.WaitGroup
	for range cliCallers {
		callers.Go(func() {
			var tok *oauth2.Token
			src, err := tokens.Source(ctx, "default")
			if err == nil {
				tok, err = src.TokenContext(ctx)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				out.OK++
				if !slices.Contains(out.AccessTokens, tok.AccessToken) {
					out.AccessTokens = append(out.AccessTokens, tok.AccessToken)
				}
				return
			case errors.Is(err, pkce.ErrSignInRequired):
				out.SignIn++
			case errors.Is(err, pkce.ErrTryLater):
				out.Later++
			default:
				out.Other++
			}
			out.Errors = append(out.Errors, err.Error())
		})
	}
	callers.Wait()
	done.Store(true)
	reader.Wait()
	out.Reads, out.TornReads = int(reads.Load()), int(torn.Load())
	b, err := json.Marshal(out)
	require.NoError(t, err)
	return b
}
