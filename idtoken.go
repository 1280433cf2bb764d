package pkce

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pkcekit/pkce/internal/jose"
)

// OpenID Connect: when openid is among the scopes of a request, Start
// sends a nonce and keeps it in the flow, and Exchange verifies the ID
// token of the answer before it returns (OpenID Connect Core 1.0
// §3.1.3.7); Refresh verifies the ID token of a refresh answer, and a
// TokenSource or Tokens compares it with the one it replaces (§12.2).

// idTokenLeeway is how far the clocks of the client and the OpenID
// Provider may disagree when exp, iat and auth_time are checked.
const idTokenLeeway = time.Minute

// nonceBytes is the entropy of a nonce, as much as a state's.
const nonceBytes = stateBytes

// claimsKey is where a Token's verified claims live among its Extra
// members. The value is a *claimsSlot, which no JSON answer can produce.
const claimsKey = "\x00pkce:verified-claims"

// claimsSlot holds the verified claims of a Token and, after a refresh
// whose answer had no ID token, the ID token they came from.
type claimsSlot struct {
	claims  *Claims
	idToken string
}

// Claims are the verified claims of an ID token (OpenID Connect Core
// §2) or a UserInfo answer (§5.3.2), with the standard claims of §5.1
// typed. Decode reads any claim, those of the provider included, into the
// application's own struct.
type Claims struct {
	Issuer          string    // iss
	Subject         string    // sub: who signed in, unique within the issuer
	Audience        []string  // aud
	AuthorizedParty string    // azp, or ""
	Expiry          time.Time // exp
	IssuedAt        time.Time // iat
	AuthTime        time.Time // auth_time, or zero
	Nonce           string    // nonce, or ""

	Name              string // name
	GivenName         string // given_name
	FamilyName        string // family_name
	PreferredUsername string // preferred_username
	Email             string // email
	EmailVerified     bool   // email_verified: true or "true"
	Picture           string // picture
	Locale            string // locale

	raw []byte
}

// Decode unmarshals the claims, as the provider sent them, into v.
func (c *Claims) Decode(v any) error {
	if c == nil {
		return errors.New("pkce: no verified claims to decode")
	}
	return json.Unmarshal(c.raw, v)
}

// Claims returns the verified claims of the token's ID token, or nil when
// the token came without one or from a request without the openid scope.
// A refresh answer without an ID token keeps the claims of the token it
// replaces (OpenID Connect Core §12.2).
func (t Token) Claims() *Claims {
	if s := t.slot(); s != nil {
		return s.claims
	}
	return nil
}

func (t Token) slot() *claimsSlot {
	if t.Token == nil {
		return nil
	}
	s, _ := t.Extra(claimsKey).(*claimsSlot)
	return s
}

// claimsJSON is the wire form of the claims.
type claimsJSON struct {
	Iss               *string         `json:"iss"`
	Sub               *string         `json:"sub"`
	Aud               json.RawMessage `json:"aud"`
	Azp               string          `json:"azp"`
	Exp               json.Number     `json:"exp"`
	Iat               json.Number     `json:"iat"`
	AuthTime          json.Number     `json:"auth_time"`
	Nonce             *string         `json:"nonce"`
	Name              string          `json:"name"`
	GivenName         string          `json:"given_name"`
	FamilyName        string          `json:"family_name"`
	PreferredUsername string          `json:"preferred_username"`
	Email             string          `json:"email"`
	EmailVerified     any             `json:"email_verified"`
	Picture           string          `json:"picture"`
	Locale            string          `json:"locale"`
}

// claimNames are the members of claimsJSON.
var claimNames = []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "name", "given_name",
	"family_name", "preferred_username", "email", "email_verified", "picture", "locale"}

// parseClaims reads a JSON object of claims. The string result describes
// a failure.
func parseClaims(b []byte) (*Claims, string) {
	var j claimsJSON
	if len(b) == 0 || b[0] != '{' {
		return nil, "the claims are not a JSON object"
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&j); err != nil {
		return nil, "the claims are not a JSON object of the types of OpenID Connect Core §5.1"
	}
	// encoding/json would read the last of two members that differ only
	// in case, such as a claim a user may set named "SUB" after sub.
	if n := repeatedMember(b, claimNames...); n != "" {
		return nil, "the claims have " + n + " more than once, in some case (RFC 7519 §4)"
	}
	c := &Claims{AuthorizedParty: j.Azp, Name: j.Name, GivenName: j.GivenName, FamilyName: j.FamilyName,
		PreferredUsername: j.PreferredUsername, Email: j.Email, Picture: j.Picture, Locale: j.Locale, raw: b}
	if j.Iss != nil {
		c.Issuer = *j.Iss
	}
	if j.Sub != nil {
		c.Subject = *j.Sub
	}
	if j.Nonce != nil {
		c.Nonce = *j.Nonce
	}
	switch v := j.EmailVerified.(type) {
	case bool:
		c.EmailVerified = v
	case string:
		c.EmailVerified = v == "true" // some providers send a string
	}
	if len(j.Aud) > 0 {
		var one string
		if json.Unmarshal(j.Aud, &one) == nil {
			c.Audience = []string{one}
		} else if json.Unmarshal(j.Aud, &c.Audience) != nil {
			return nil, "aud is neither a string nor an array of strings (RFC 7519 §4.1.3)"
		}
	}
	for _, d := range []struct {
		name string
		n    json.Number
		t    *time.Time
	}{{"exp", j.Exp, &c.Expiry}, {"iat", j.Iat, &c.IssuedAt}, {"auth_time", j.AuthTime, &c.AuthTime}} {
		if d.n == "" {
			continue
		}
		f, err := strconv.ParseFloat(string(d.n), 64)
		if err != nil || f < 0 || f > math.MaxInt32*4 {
			return nil, d.name + " is not a NumericDate (RFC 7519 §2)"
		}
		*d.t = time.Unix(int64(f), 0)
	}
	return c, ""
}

// idTokenCheck is what an ID token is held to besides its signature,
// issuer, audience and lifetime.
type idTokenCheck struct {
	nonce  string // the flow's nonce, or "" on refresh
	maxAge string // the max_age the authorization request asked, or ""
	prior  *Claims
	red    redactor // the secrets of the request and the answer, which a hostile provider may echo in a claim
}

// verifyIDToken applies OpenID Connect Core §3.1.3.7 (and §12.2 when
// check.prior is set) to raw and returns its claims.
func (c *Client) verifyIDToken(ctx context.Context, op string, raw string, check idTokenCheck) (*Claims, error) {
	fail := func(problem, rule string) (*Claims, error) {
		return nil, &ResponseError{Op: op, Err: ErrInvalidIDToken, URL: c.config.Endpoint.TokenURL,
			Problem: problem, Rule: "OpenID Connect Core 1.0 " + rule}
	}
	jws, err := jose.Parse(raw)
	if err != nil {
		return fail("the id_token is not a signed JWT: "+err.Error(), "§2, §3.1.3.7 step 6")
	}
	if err := c.checkSignature(ctx, op, jws, check.red); err != nil {
		return nil, err
	}
	claims, problem := parseClaims(jws.Payload)
	now := c.now()
	switch {
	case problem != "":
		return fail(problem, "§2")
	case claims.Issuer != c.issuer:
		return fail(fmt.Sprintf("iss %q is not the issuer %q", clip(check.red.clean(claims.Issuer), 200), c.issuer), "§3.1.3.7 step 2")
	case claims.Subject == "" || len(claims.Subject) > 255:
		return fail("sub is missing, empty or longer than 255 characters", "§2")
	case !slices.Contains(claims.Audience, c.config.ClientID):
		return fail(fmt.Sprintf("aud %q does not contain the client ID", clip(check.red.clean(strings.Join(claims.Audience, " ")), 200)), "§3.1.3.7 step 3")
	case len(claims.Audience) > 1 && claims.AuthorizedParty == "":
		return fail("aud names several audiences and azp is missing, so the client cannot tell that the token was issued to it", "§3.1.3.7 step 4")
	case claims.AuthorizedParty != "" && claims.AuthorizedParty != c.config.ClientID:
		return fail(fmt.Sprintf("azp %q is not the client ID", clip(check.red.clean(claims.AuthorizedParty), 200)), "§3.1.3.7 step 5")
	case claims.Expiry.IsZero():
		return fail("exp is missing", "§2")
	case !now.Before(claims.Expiry.Add(idTokenLeeway)):
		return fail("the ID token expired at "+claims.Expiry.UTC().Format(time.RFC3339), "§3.1.3.7 step 9")
	case claims.IssuedAt.IsZero():
		return fail("iat is missing", "§2")
	case claims.IssuedAt.After(now.Add(idTokenLeeway)):
		return fail("iat is in the future: "+claims.IssuedAt.UTC().Format(time.RFC3339), "§3.1.3.7 step 10")
	}
	if check.prior != nil {
		return c.checkRefreshed(claims, check.prior, fail)
	}
	if subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(check.nonce)) != 1 {
		return fail("nonce is missing or not the one of the authorization request: a replayed or injected ID token", "§3.1.3.7 step 11")
	}
	if check.maxAge != "" {
		maxAge, _ := strconv.ParseInt(check.maxAge, 10, 32) // checked by Start
		switch {
		case claims.AuthTime.IsZero():
			return fail("auth_time is missing, but the request asked for max_age", "§3.1.3.7 step 13")
		case now.After(claims.AuthTime.Add(time.Duration(maxAge)*time.Second + idTokenLeeway)):
			return fail(fmt.Sprintf("the user authenticated at %s, longer ago than max_age %d seconds", claims.AuthTime.UTC().Format(time.RFC3339), maxAge), "§3.1.3.7 step 13")
		}
	}
	return claims, nil
}

// checkRefreshed applies OpenID Connect Core §12.2: a refreshed ID token
// is about the same authentication as the one it replaces.
func (c *Client) checkRefreshed(claims, prior *Claims, fail func(problem, rule string) (*Claims, error)) (*Claims, error) {
	switch {
	case claims.Subject != prior.Subject:
		return fail("sub differs from the ID token of the sign-in", "§12.2")
	case claims.Issuer != prior.Issuer:
		return fail("iss differs from the ID token of the sign-in", "§12.2")
	case !slices.Equal(claims.Audience, prior.Audience):
		return fail("aud differs from the ID token of the sign-in", "§12.2")
	case claims.AuthorizedParty != prior.AuthorizedParty:
		return fail("azp differs from the ID token of the sign-in", "§12.2")
	case !claims.AuthTime.IsZero() && !prior.AuthTime.IsZero() && !claims.AuthTime.Equal(prior.AuthTime):
		return fail("auth_time is not the time of the original authentication", "§12.2")
	case claims.Nonce != "" && claims.Nonce != prior.Nonce:
		return fail("nonce differs from the ID token of the sign-in", "§12.2")
	}
	return claims, nil
}

// checkSignature verifies the JWS with the issuer's keys, or with the
// client secret for HS256 when the client opted in (§10.1).
func (c *Client) checkSignature(ctx context.Context, op string, jws *jose.JWS, red redactor) error {
	fail := func(problem, rule string) error {
		return &ResponseError{Op: op, Err: ErrInvalidIDToken, URL: c.config.Endpoint.TokenURL,
			Problem: problem, Rule: "OpenID Connect Core 1.0 " + rule}
	}
	switch jws.Alg {
	case jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA:
	case jose.HS256:
		if !c.hs256IDTokens {
			return fail("alg HS256 is signed with the client secret, which the client accepts only with tolerate.HS256IDTokens", "§10.1")
		}
		if jws.VerifyHMAC([]byte(c.config.ClientSecret)) != nil {
			return fail("the HS256 signature does not verify with the client secret", "§3.1.3.7 step 8")
		}
		return nil
	default:
		return fail(fmt.Sprintf("alg %q is not one the client verifies (RS256, PS256, ES256, ES384, ES512, EdDSA)", clip(red.clean(jws.Alg), 20)), "§3.1.3.7 step 7")
	}
	keys, err := c.signingKeys(ctx, jws.Alg, jws.Kid)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fail(fmt.Sprintf("the issuer's JWK Set has no %s key with kid %q, even after fetching it again", jws.Alg, clip(red.clean(jws.Kid), 80)), "§10.1")
	}
	if verifiesWithOne(jws, keys) {
		return nil
	}
	if jws.Kid == "" {
		// A provider that names no kid may have rotated its key: the
		// cached set is fetched again, within the same rate limit.
		ks := c.keySetFor()
		if fresh, err := c.refetchKeys(ctx, ks, ks.keys.Load()); err == nil && fresh != nil &&
			verifiesWithOne(jws, matching(*fresh, jws.Alg, "")) {
			return nil
		}
	}
	return fail("the signature does not verify with the issuer's key", "§3.1.3.7 step 6")
}

func verifiesWithOne(jws *jose.JWS, keys []jose.Key) bool {
	for _, k := range keys {
		if jws.Verify(k.Public) == nil {
			return true
		}
	}
	return false
}
