package protected

import (
	"context"
	"fmt"
	"net/url"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/link"
	"github.com/pkcekit/pkce/internal/wire"
)

// The application's code that a Transport calls: its hooks (SignIn,
// PreRegistered, FilterScopes, ChooseAuthorizationServer,
// AllowMetadataURL) and its stores (Store, Registrations). A panic in any
// of them fails the request with an error that names the code: it runs
// inside RoundTrip, where an http.Client does not recover it, so it
// would otherwise end the program (THREATS.md, a careless application).

// recovered, deferred, turns a panic into *err. The panic's value is
// quoted, without secrets, when quote is set; a store's is not quoted at
// all, since it may hold what the store keeps, which no redactor knows.
func recovered(err *error, what string, quote bool, secrets ...string) {
	v := recover()
	if v == nil {
		return
	}
	if !quote {
		*err = fmt.Errorf("pkce: %s panicked (its value is not quoted: it may hold what the store keeps)", what)
		return
	}
	*err = fmt.Errorf("pkce: %s panicked: %s", what, wire.Clip(link.Redact(fmt.Sprint(v), secrets...), 300))
}

// preRegistered runs the application's PreRegistered.
func (t *Transport) preRegistered(issuer string) (r *Registration, err error) {
	defer recovered(&err, "PreRegistered", true)
	return t.PreRegistered(issuer), nil
}

// metadataRule is the rule for resource_metadata URLs: the application's
// AllowMetadataURL, or the resource's origin.
func (t *Transport) metadataRule() func(resource, metadata *url.URL) error {
	if t.AllowMetadataURL == nil {
		return sameOriginMetadata
	}
	return func(resource, metadata *url.URL) (err error) {
		defer recovered(&err, "AllowMetadataURL", true)
		return t.AllowMetadataURL(resource, metadata)
	}
}

// loadRegistration and saveRegistration use the RegistrationStore.
func (t *Transport) loadRegistration(ctx context.Context, issuer string) (r *Registration, err error) {
	defer recovered(&err, "the RegistrationStore", false)
	return t.registrations.LoadRegistration(ctx, issuer)
}

func (t *Transport) saveRegistration(ctx context.Context, r *Registration) (err error) {
	defer recovered(&err, "the RegistrationStore", false)
	return t.registrations.SaveRegistration(ctx, r)
}

// save stores tok for s.
func (t *Transport) save(ctx context.Context, s *session, tok *pkce.Token) (err error) {
	defer recovered(&err, "the Store", false)
	return s.tokens.Save(ctx, s.subject, tok)
}

// A signInSlot is a request's hold of its Transport's one sign-in at a
// time (Transport.signingIn), which the request gives back when it is
// done, unless a SignIn it gave up waiting for still runs.
type signInSlot struct {
	t         *Transport
	handedOff bool
}

func (s *signInSlot) release() {
	if !s.handedOff {
		<-s.t.signingIn
	}
}

// handOffSlot leaves s to a SignIn that still runs: it is given back
// when done delivers the SignIn's result.
func handOffSlot[T any](s *signInSlot, done <-chan T) {
	s.handedOff = true
	go func() {
		<-done
		<-s.t.signingIn
	}()
}
