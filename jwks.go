package pkce

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkcekit/pkce/internal/jose"
)

// The issuer's signing keys (OpenID Connect Core §10.1), fetched from the
// jwks_uri of its metadata (OpenID Connect Discovery 1.0 §3) and kept for
// the life of the process, for every Client of that issuer.
//
// A token whose kid is unknown (a key the issuer rotated in) makes one
// client fetch the set again while the others wait for that answer; after
// such a fetch the next one waits keyRefetchInterval, so that a stream of
// tokens with made-up kids costs the issuer one request per interval, not
// one per token. Verifying with cached keys makes no request at all.

// keyRefetchInterval is the least time between two fetches of a JWK Set
// made because a token named a key the cached set lacks.
const keyRefetchInterval = 30 * time.Second

// keyRetryInterval is how long the error of a failed fetch of a JWK Set
// answers every token, so that tokens anyone may send (VerifyIDToken)
// cost a failing issuer one request per interval, not one each.
const keyRetryInterval = 5 * time.Second

// keySets holds a *keySet per issuer and jwks_uri.
var keySets sync.Map

type keySet struct {
	keys atomic.Pointer[[]jose.Key] // nil until the first fetch succeeds

	// sem is held during a fetch, so that one request serves every
	// waiting caller; a channel, so that a caller waits only as long as
	// its context lets it.
	sem       chan struct{}
	refetched time.Time // when a fetch for an unknown key last ran
	failure   error     // the error of the last fetch, when it failed
	failedAt  time.Time
}

// keySetFor returns the shared key set of the client's issuer.
func (c *Client) keySetFor() *keySet {
	key := c.issuer + "\n" + c.jwksURI()
	if ks, ok := keySets.Load(key); ok {
		return ks.(*keySet)
	}
	ks, _ := keySets.LoadOrStore(key, &keySet{sem: make(chan struct{}, 1)})
	return ks.(*keySet)
}

// jwksURI is the jwks_uri of the client's metadata, or "".
func (c *Client) jwksURI() string {
	if c.metadata == nil {
		return ""
	}
	return c.metadata.JWKSURI
}

// signingKeys returns the keys that may verify a JWS with alg and kid,
// fetching the set when it is not cached yet or lacks such a key.
func (c *Client) signingKeys(ctx context.Context, alg, kid string) ([]jose.Key, error) {
	ks := c.keySetFor()
	seen := ks.keys.Load()
	if seen != nil {
		if keys := matching(*seen, alg, kid); len(keys) > 0 {
			return keys, nil
		}
	}
	keys, err := c.refetchKeys(ctx, ks, seen)
	if err != nil || keys == nil {
		return nil, err
	}
	return matching(*keys, alg, kid), nil
}

// refetchKeys fetches the set again because seen, the set the caller
// looked at, lacked the key it needs. It returns the set another caller
// fetched meanwhile, if any, and nil without a request when the last
// such fetch is less than keyRefetchInterval ago.
func (c *Client) refetchKeys(ctx context.Context, ks *keySet, seen *[]jose.Key) (*[]jose.Key, error) {
	select {
	case ks.sem <- struct{}{}:
		defer func() { <-ks.sem }()
	case <-ctx.Done():
		return nil, &requestError{Op: opDiscover, Err: ctx.Err()}
	}
	if cur := ks.keys.Load(); cur != seen {
		return cur, nil // another caller fetched while this one waited
	}
	now := c.now()
	if ks.failure != nil && now.Sub(ks.failedAt) < keyRetryInterval && !now.Before(ks.failedAt) {
		return nil, ks.failure
	}
	if seen != nil {
		if !ks.refetched.IsZero() && now.Sub(ks.refetched) < keyRefetchInterval && !now.Before(ks.refetched) {
			return nil, nil
		}
		ks.refetched = now
	}
	keys, err := c.fetchKeys(ctx)
	if err != nil {
		if ctx.Err() == nil { // the caller giving up is no failure of the issuer
			ks.failure, ks.failedAt = err, now
		}
		return nil, err
	}
	ks.failure = nil
	ks.keys.Store(&keys)
	return &keys, nil
}

func matching(keys []jose.Key, alg, kid string) []jose.Key {
	var out []jose.Key
	for _, k := range keys {
		if k.CanVerify(alg, kid) {
			out = append(out, k)
		}
	}
	return out
}

// fetchKeys GETs the JWK Set (RFC 7517 §5) without following redirects,
// within the client's body bound and a default deadline. Its errors have
// Op opDiscover: the set is part of what the issuer publishes.
func (c *Client) fetchKeys(ctx context.Context) ([]jose.Key, error) {
	const op = opDiscover
	u := c.jwksURI()
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &requestError{Op: op, Err: err}
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := endpointClient(ctx, c.httpClient).Do(req)
	if err != nil {
		return nil, &requestError{Op: op, Err: err}
	}
	body, err := readBody(op, resp, c.maxResponseBytes, redactor{})
	if err != nil {
		return nil, err
	}
	r := newServerResponse(op, u, resp, body, redactor{}, "")
	const rule = "OpenID Connect Discovery 1.0 §3 (jwks_uri), RFC 7517 §5"
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.contentType, ";")[0]))
	switch {
	case r.status != http.StatusOK:
		return nil, r.fail(errUnexpectedStatus, "the JWK Set must be served with status 200", rule)
	case ct != "application/json" && ct != "application/jwk-set+json":
		return nil, r.fail(errNotJSON, "the JWK Set must be labelled application/json or application/jwk-set+json", rule)
	}
	keys, err := jose.ParseSet(body)
	if err != nil {
		return nil, r.fail(ErrInvalidResponse, err.Error(), rule)
	}
	return keys, nil
}
