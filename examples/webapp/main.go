// Command webapp is a Go web backend that signs people in with the
// authorization code grant and PKCE. It shows what a backend keeps where:
//
//   - /login starts a flow and keeps it, with the page to return to, in a
//     server-side store under a random session cookie; the browser only
//     ever sees the authorization URL;
//   - /callback takes the pending flow out of the store (so it is used
//     once) and finishes it with Finish;
//   - /me calls a protected resource with the session's token, refreshed
//     as needed by a pkce.TokenSource;
//   - /logout forgets the session.
//
// Every page says who is signed in; a failed sign-in shows what the
// authorization server said (its error and error_description). The app
// logs one line per step with log/slog: login started, callback ok or
// failed (with the error's Op and class), API call, logout; never a
// state, a code or a token.
//
// Try it against an authorization server embedded in the process, which
// asks for consent (Approve signs in, Deny shows a failed sign-in), then
// open http://127.0.0.1:8080/:
//
//	cd examples/webapp && go run . -demo
//
// or against a real one, with a confidential client whose redirect URI is
// registered as http://127.0.0.1:8080/callback:
//
//	PKCE_CLIENT_SECRET=... go run . \
//		-auth-url https://as.example/authorize -token-url https://as.example/oauth/token \
//		-client-id my-app -scopes "openid profile" -resource-url https://as.example/userinfo
//
// Provider flags can also come from the environment: PKCE_AUTH_URL,
// PKCE_TOKEN_URL, PKCE_CLIENT_ID, PKCE_CLIENT_SECRET, PKCE_SCOPES,
// PKCE_ISSUER, PKCE_REDIRECT_URL, PKCE_RESOURCE_URL, PKCE_REDIS,
// PKCE_POSTGRES.
//
// Tokens are kept in a pkce.Store through pkce.Tokens, keyed by a random
// subject that the session names, so that whichever replica serves a
// request finds them and one replica at a time refreshes them. Flows are
// finished once across replicas because their state is claimed in the
// same Store (pkce.WithStore). See how replicas behave with
//
//	go run . -demo -replicas 3
//
// which serves three replicas, each on its own port, behind a round-robin
// proxy on -addr: a sign-in starts on one replica and finishes on the
// next, and the X-Replica header of every response names the replica
// that served it. The replicas share a memory store in this process.
// Processes share a store in Redis or PostgreSQL, which also holds the
// sessions (github.com/pkcekit/pkce/redisstore, .../pgstore):
//
//	go run . -redis 127.0.0.1:6379 ...
//	go run . -postgres postgres://app@db.example/app ...
//
// Without either, sessions live in memory and end with the process. With
// PKCE_SEAL_KEY (32 random bytes, base64url) in the environment, tokens and
// sessions are stored encrypted (github.com/pkcekit/pkce/seal).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := serve(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// params collects repeated -param key=value flags.
type params [][2]string

func (p *params) String() string { return fmt.Sprint(*p) }

func (p *params) Set(v string) error {
	key, value, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	*p = append(*p, [2]string{key, value})
	return nil
}

// serve parses the command line, listens and serves until ctx ends.
func serve(ctx context.Context, args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fl.SetOutput(stdout)
	env := os.Getenv
	addr := fl.String("addr", "127.0.0.1:8080", "`address` to listen on")
	authURL := fl.String("auth-url", env("PKCE_AUTH_URL"), "authorization endpoint `URL`")
	tokenURL := fl.String("token-url", env("PKCE_TOKEN_URL"), "token endpoint `URL`")
	clientID := fl.String("client-id", env("PKCE_CLIENT_ID"), "client identifier")
	clientSecret := fl.String("client-secret", env("PKCE_CLIENT_SECRET"), "client secret (better: PKCE_CLIENT_SECRET)")
	scopes := fl.String("scopes", env("PKCE_SCOPES"), "scopes, separated by spaces or commas")
	issuer := fl.String("issuer", env("PKCE_ISSUER"), "issuer identifier the callback's iss must equal (RFC 9207), if the provider sends one")
	redirectURL := fl.String("redirect-url", env("PKCE_REDIRECT_URL"), "this app's callback `URL` as browsers reach it (default http://ADDR/callback)")
	resourceURL := fl.String("resource-url", env("PKCE_RESOURCE_URL"), "protected resource `URL` that /me calls with the token")
	demo := fl.Bool("demo", false, "sign in to an authorization server embedded in this process")
	replicas := fl.Int("replicas", 1, "serve this many replicas, sharing a store, behind a round-robin proxy on -addr")
	redisAddr := fl.String("redis", env("PKCE_REDIS"), "keep sessions, tokens and finished flows in the Redis at `ADDR`, shared with other processes")
	postgresDSN := fl.String("postgres", env("PKCE_POSTGRES"), "keep sessions, tokens and finished flows in the PostgreSQL database at `DSN`, shared with other processes")
	var extra params
	fl.Var(&extra, "param", "extra authorization parameter `key=value`, e.g. audience=https://api.example; repeatable")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if *replicas < 1 {
		return fmt.Errorf("-replicas %d: want at least 1", *replicas)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	base := baseURL(ln.Addr())
	if *redirectURL == "" {
		*redirectURL = base + "/callback"
	}
	if *demo {
		secret := randomID()
		srv := pkcetest.NewServer(pkcetest.Config{
			Clients: []pkcetest.Client{{
				ID: "webapp-demo", Secret: secret, Method: pkcetest.MethodBasic,
				RedirectURIs: []string{*redirectURL},
			}},
			SendIssuer: true,
			Rotate:     true,
			Consent:    true, // a page with Approve and Deny, as real providers show
		})
		defer srv.Close()
		*authURL, *tokenURL, *issuer = srv.AuthURL(), srv.TokenURL(), srv.Issuer()
		*clientID, *clientSecret = "webapp-demo", secret
		if *scopes == "" {
			*scopes = "openid profile offline_access"
		}
		if *resourceURL == "" {
			*resourceURL = srv.ResourceURL()
		}
	}

	cfg := config{
		OAuth2: &oauth2.Config{
			ClientID:     *clientID,
			ClientSecret: *clientSecret,
			Endpoint:     oauth2.Endpoint{AuthURL: *authURL, TokenURL: *tokenURL},
			RedirectURL:  *redirectURL,
			Scopes:       strings.FieldsFunc(*scopes, func(r rune) bool { return r == ' ' || r == ',' }),
		},
		ResourceURL: *resourceURL,
	}
	if *issuer != "" {
		cfg.Options = append(cfg.Options, pkce.WithIssuer(*issuer))
		// With the provider's metadata the client is an OpenID Connect
		// relying party: it verifies ID tokens and can sign out there.
		if md, err := pkce.Discover(ctx, *issuer); err == nil {
			cfg.Options = append(cfg.Options, pkce.WithMetadata(md))
		}
	}
	for _, p := range extra {
		cfg.StartOptions = append(cfg.StartOptions, pkce.Param(p[0], p[1]))
	}
	// The sealing key comes from the environment only: other users of the
	// machine can read a process's arguments.
	store, closeStore, err := openStore(ctx, *redisAddr, *postgresDSN, env("PKCE_SEAL_KEY"))
	if err != nil {
		return err
	}
	defer closeStore()
	cfg.Store = store
	apps, err := newReplicas(cfg, *replicas)
	if err != nil {
		return err
	}

	servers := []*http.Server{newServer(apps[0].routes())}
	listeners := []net.Listener{ln}
	if len(apps) > 1 {
		var targets []*url.URL
		servers, listeners = nil, nil
		for i, a := range apps {
			rln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			defer rln.Close()
			targets = append(targets, &url.URL{Scheme: "http", Host: rln.Addr().String()})
			servers = append(servers, newServer(a.routes()))
			listeners = append(listeners, rln)
			fmt.Fprintf(stdout, "Replica %d listening on %s/\n", i, baseURL(rln.Addr()))
		}
		servers = append(servers, newServer(roundRobin(targets)))
		listeners = append(listeners, ln)
	}
	fmt.Fprintf(stdout, "Listening on %s/\n", base)
	served := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { served <- srv.Serve(listeners[i]) }()
	}
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		err = errors.Join(err, srv.Shutdown(shutdown))
	}
	return err
}

func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// newReplicas returns n apps for cfg that share a pkce.Store (for flows
// and tokens) and the sessions, as the replicas of one deployment do.
func newReplicas(cfg config, n int) ([]*app, error) {
	if cfg.Store == nil {
		cfg.Store = pkce.NewMemoryStore()
	}
	apps := make([]*app, n)
	for i := range apps {
		a, err := newApp(cfg)
		if err != nil {
			return nil, err
		}
		apps[i] = a
	}
	return apps, nil
}

// roundRobin is a reverse proxy that sends each request to the next of
// targets, as a load balancer without session affinity does, and names
// the replica that served it in the X-Replica response header.
func roundRobin(targets []*url.URL) http.Handler {
	var next atomic.Uint64
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			i := int((next.Add(1) - 1) % uint64(len(targets)))
			r.SetURL(targets[i])
			r.Out.Header.Set("X-Replica", strconv.Itoa(i))
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Replica", resp.Request.Header.Get("X-Replica"))
			return nil
		},
	}
}

// baseURL is where browsers on this machine reach addr.
func baseURL(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
