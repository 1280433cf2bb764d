package protected

import (
	"context"
	"errors"
	"net/url"
	"slices"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/link"

	"golang.org/x/oauth2"
)

// What a Transport keeps per protected resource, and its tokens.

// A session is what a Transport knows about one protected resource.
type session struct {
	resource string // the canonical resource identifier
	issuer   string
	md       *pkce.Metadata
	reg      *Registration
	dynamic  bool // reg came from dynamic registration
	client   *pkce.Client
	tokens   *pkce.Tokens
	scopes   []string
	subject  string // the token key
	// rejected is set, under Transport.mu, when a refresh answered
	// invalid_client for a dynamic registration: the server forgot it.
	rejected bool
}

// sessionFor returns the session whose resource covers u, or nil.
func (t *Transport) sessionFor(u *url.URL) *session {
	ru, err := parseResourceURL(u.String())
	if err != nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sessions {
		if resourceCovers(s.resource, ru) {
			return s
		}
	}
	return nil
}

// token returns the source and the token to send for s: nil when there is
// none yet or it must be obtained again by signing in.
func (t *Transport) token(ctx context.Context, s *session) (_ *pkce.TokenSource, _ *oauth2.Token, err error) {
	defer recovered(&err, "the Store", false)
	if s == nil {
		return nil, nil, nil
	}
	src, err := s.tokens.Source(ctx, s.subject)
	if errors.Is(err, pkce.ErrSignInRequired) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	tok, err := src.TokenContext(ctx)
	switch {
	case errors.Is(err, pkce.ErrSignInRequired):
		return nil, nil, nil
	case s.dynamic && errors.Is(err, pkce.ErrorCode("invalid_client")):
		// The server no longer knows the registration: the next 401
		// registers again and signs in (RFC 7591 §3).
		t.mu.Lock()
		s.rejected = true
		t.mu.Unlock()
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	return src, tok, nil
}

// copyOf returns a copy of s, which another request may be marking
// rejected (under t.mu) as it is copied.
func (t *Transport) copyOf(s *session) session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return *s
}

// replace puts ns in the place of old.
func (t *Transport) replace(old, ns *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, s := range t.sessions {
		if s == old {
			t.sessions[i] = ns
		}
	}
}

// refresh refreshes the token the API refused, once, as the token's
// source would (link.RefreshRefused): under the Store's lease, and taking
// a token another process stored meanwhile instead of presenting the
// refresh token again, which a rotating server answers by revoking the
// grant (RFC 9700 §4.14.2).
func (t *Transport) refresh(ctx context.Context, s *session, sent *oauth2.Token) (err error) {
	defer recovered(&err, "the Store", false)
	return link.RefreshRefused(ctx, s.tokens, s.subject, sent)
}

// union returns a followed by the members of b it lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (t *Transport) maxStepUps() int {
	if t.MaxStepUps > 0 {
		return t.MaxStepUps
	}
	return 2
}
