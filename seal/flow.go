package seal

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/pkcekit/pkce"
)

// flowDomain separates sealed flows from every other use of the keys.
const flowDomain = "pkce/seal flow v1"

// maxCookie bounds a sealed flow's cookie: browsers keep cookies of up to
// 4096 bytes, name and value together (RFC 6265 §6.1).
const maxCookie = 4096

// sealedFlow is what a flow cookie holds, encrypted: the purpose and the
// expiry it was sealed for, and the flow.
type sealedFlow struct {
	Purpose string          `json:"p"`
	Expires int64           `json:"e"` // Unix seconds
	Flow    json.RawMessage `json:"f"`
}

// FlowCookie seals f into a cookie named name, for the callback to open
// with OpenFlow. The name is the cookie's purpose: a value moved to a
// cookie of another name does not open. The cookie expires with the flow,
// and the sealed value carries that expiry too, so that a browser that
// keeps the cookie longer gains nothing.
//
// The cookie is HttpOnly (scripts cannot read it), Path=/, SameSite=Lax
// (the browser sends it on the top-level GET that the authorization
// server redirects to; for response_mode=form_post set SameSite to
// http.SameSiteNoneMode before setting it), and Secure when the flow's
// redirect URI is https.
//
// The cookie only carries the flow: Client.Finish still claims the flow's
// state in the Client's Store, so a callback is accepted once however
// often the cookie comes back (RFC 6749 §10.12).
func (k *Keys) FlowCookie(name string, f *pkce.Flow) (*http.Cookie, error) {
	if f == nil || f.Expires.IsZero() {
		return nil, errors.New("seal: FlowCookie needs a flow from Client.Start")
	}
	if name == "" {
		return nil, errors.New("seal: a flow cookie needs a name")
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	// The authorization URL is not needed to finish the flow; leaving it
	// out keeps the cookie small.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	delete(fields, "url")
	if b, err = json.Marshal(fields); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	plain, err := json.Marshal(sealedFlow{Purpose: name, Expires: f.Expires.Unix(), Flow: b})
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	sealed, err := k.seal(flowDomain, "", plain)
	if err != nil {
		return nil, err
	}
	value := base64.RawURLEncoding.EncodeToString(sealed)
	if len(name)+len(value) > maxCookie {
		return nil, fmt.Errorf("seal: the sealed flow needs a cookie of %d bytes, more than browsers keep", len(name)+len(value))
	}
	return &http.Cookie{
		Name: name, Value: value, Path: "/", Expires: f.Expires,
		HttpOnly: true, Secure: httpsRedirect(f), SameSite: http.SameSiteLaxMode,
	}, nil
}

// httpsRedirect reports whether f's redirect URI is https: a Secure
// cookie would not come back to an http one (loopback, in development).
func httpsRedirect(f *pkce.Flow) bool {
	u, err := url.Parse(f.URL)
	if err != nil {
		return true
	}
	r, err := url.Parse(u.Query().Get("redirect_uri"))
	return err != nil || r.Scheme != "http"
}

// OpenFlow opens the flow that FlowCookie sealed into r's cookie named
// name, checking that it was sealed by these keys for this purpose and
// has not expired. It fails with an error matching http.ErrNoCookie when
// there is no such cookie, ErrTampered, ErrUnknownKey, ErrWrongPurpose
// or ErrExpired. Pass the flow to Client.Finish, which checks it against
// the Client and claims it; clearing the cookie afterwards is tidy, but
// single use does not depend on it.
func (k *Keys) OpenFlow(r *http.Request, name string) (*pkce.Flow, error) {
	if r == nil {
		return nil, errors.New("seal: OpenFlow was given a nil request")
	}
	c, err := r.Cookie(name)
	if err != nil {
		return nil, fmt.Errorf("seal: no flow cookie %q: %w", name, err)
	}
	return k.openFlow(c.Value, name, time.Now())
}

func (k *Keys) openFlow(value, purpose string, now time.Time) (*pkce.Flow, error) {
	if len(value) > 2*maxCookie {
		return nil, ErrTampered
	}
	sealed, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return nil, ErrTampered
	}
	plain, err := k.open(flowDomain, "", sealed)
	if err != nil {
		return nil, err
	}
	var sf sealedFlow
	if err := json.Unmarshal(plain, &sf); err != nil {
		return nil, ErrTampered // authentic but not ours: another domain's layout
	}
	if sf.Purpose != purpose {
		return nil, ErrWrongPurpose
	}
	if !now.Before(time.Unix(sf.Expires, 0)) {
		return nil, ErrExpired
	}
	var f pkce.Flow
	if err := json.Unmarshal(sf.Flow, &f); err != nil {
		return nil, fmt.Errorf("seal: the sealed flow does not decode: %w", err)
	}
	return &f, nil
}

// ClearFlowCookie returns a cookie that deletes the flow cookie named
// name, to set once the callback is handled.
func ClearFlowCookie(name string) *http.Cookie {
	return &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}
