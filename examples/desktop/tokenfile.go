package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pkcekit/pkce"
	"golang.org/x/oauth2"
)

// with the provider it came from.
type tokenStore struct {
	path     string
	tokenURL string
	clientID string
	// expireOnLoad treats a loaded token as expired, so that it is
	// refreshed before use: the demo's, whose access token died with the
	// last run's embedded server.
	expireOnLoad bool
}

type storedToken struct {
	TokenURL string        `json:"token_url"`
	ClientID string        `json:"client_id"`
	Token    *oauth2.Token `json:"token"`
	IDToken  string        `json:"id_token,omitempty"` // the id_token_hint of -logout
}

var errOtherProvider = errors.New("it was issued by another provider or to another client")

// load returns the stored token; an error matching fs.ErrNotExist when
// there is none.
func (s tokenStore) load() (*oauth2.Token, error) {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return nil, err
	}
	var st storedToken
	if err := json.Unmarshal(b, &st); err != nil || st.Token == nil {
		return nil, errors.New("the token file is not valid")
	}
	if st.TokenURL != s.tokenURL || st.ClientID != s.clientID {
		return nil, errOtherProvider
	}
	if s.expireOnLoad {
		st.Token.Expiry = time.Now().Add(-time.Minute)
	}
	return st.Token, nil
}

// idToken returns the stored ID token, or "".
func (s tokenStore) idToken() string {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return ""
	}
	var st storedToken
	if json.Unmarshal(b, &st) != nil || st.TokenURL != s.tokenURL || st.ClientID != s.clientID {
		return ""
	}
	return st.IDToken
}

// save writes tok atomically: a temporary file in the same directory,
// readable by the user only, renamed over the old one. A crash leaves the
// old token or the new one, never half of one; losing a rotated refresh
// token would mean signing in again.
func (s tokenStore) save(_ context.Context, tok *pkce.Token) (err error) {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(storedToken{TokenURL: s.tokenURL, ClientID: s.clientID, Token: tok.Token, IDToken: tok.IDToken()}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the token: %w", err)
	}
	f, err := os.CreateTemp(dir, ".token-*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), s.path)
}

func (s tokenStore) remove(stdout io.Writer) error {
	err := os.Remove(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintln(stdout, "Not signed in.")
		return nil
	case err != nil:
		return err
	}
	fmt.Fprintln(stdout, "Signed out: removed", s.path)
	return nil
}
