package pkcetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// metadata serves the authorization server metadata (RFC 8414 §3) at the
// RFC 8414 path and the OpenID Connect Discovery path. Both get the same
// document; it is not a complete OpenID Provider configuration (there are
// no signing keys), only what an OAuth client needs.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	s.metadataPaths = append(s.metadataPaths, r.URL.Path)
	s.mu.Unlock()

	f := s.currentFaults()
	slash := strings.HasSuffix(r.URL.Path, "/")
	oauthPath := strings.TrimSuffix(r.URL.Path, "/") == oauthMetadataPath+s.prefix
	switch {
	case slash && !f.MetadataRedirectToSlash:
		// The trailing-slash twins exist only while the fault is set.
		http.NotFound(w, r)
		return
	case f.MetadataRedirectToSlash && !slash:
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
		return
	case oauthPath && f.HideOAuthMetadata, !oauthPath && f.HideOpenIDConfiguration:
		http.NotFound(w, r)
		return
	case oauthPath && f.OAuthMetadataRaw != nil:
		writeRaw(w, f.OAuthMetadataRaw)
		return
	case f.MetadataRaw != nil:
		writeRaw(w, f.MetadataRaw)
		return
	case f.MetadataHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!DOCTYPE html>\n<html><head><title>Acme</title></head>"+
			"<body><div id=\"app\">Loading…</div></body></html>\n")
		return
	}

	b, _ := json.Marshal(s.metadataDocument(f)) // strings, bools and string slices: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// metadataDocument returns the metadata members (RFC 8414 §2, RFC 9126 §5,
// RFC 9207 §3) as the configuration and the faults make them.
func (s *Server) metadataDocument(f Faults) map[string]any {
	issuer := s.Issuer()
	if f.MetadataIssuer != "" {
		issuer = f.MetadataIssuer
	}
	methods := []string{methodS256}
	if f.MetadataWithoutS256 {
		methods = []string{"plain"}
	}
	doc := map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                s.AuthURL(),
		"token_endpoint":                        s.TokenURL(),
		"revocation_endpoint":                   s.RevocationURL(),
		"pushed_authorization_request_endpoint": s.PARURL(),
		"userinfo_endpoint":                     s.ResourceURL(),
		"jwks_uri":                              s.JWKSURL(),
		"end_session_endpoint":                  s.EndSessionURL(),
		"id_token_signing_alg_values_supported": []string{s.idTokenAlg()},
		"subject_types_supported":               []string{"public"},
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query", "form_post"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials", grantJWTBearer, grantTokenExchange},
		"code_challenge_methods_supported":      methods,
		"require_pushed_authorization_requests": s.cfg.RequirePAR,
		// RFC 9207 §3: true only when iss is sent on every response.
		"authorization_response_iss_parameter_supported": s.cfg.SendIssuer,
	}
	if s.cfg.DPoP {
		doc["dpop_signing_alg_values_supported"] = dpopAlgs
	}
	if slices.Contains(s.authMethodNames(), string(MethodPrivateKeyJWT)) {
		doc["token_endpoint_auth_signing_alg_values_supported"] = dpopAlgs
	}
	if !f.MetadataOmitAuthMethods {
		names := s.authMethodNames()
		doc["token_endpoint_auth_methods_supported"] = names
		doc["revocation_endpoint_auth_methods_supported"] = names
	}
	for _, name := range f.MetadataOmit {
		delete(doc, name)
	}
	return doc
}

// authMethodNames returns Config.AuthMethodsSupported, or else the methods
// of the registered clients in registration order, without repeats.
func (s *Server) authMethodNames() []string {
	methods := s.cfg.AuthMethodsSupported
	if methods == nil {
		for _, c := range s.cfg.Clients {
			methods = append(methods, c.Method)
		}
	}
	names := []string{} // an empty list is still a list in JSON
	for _, m := range methods {
		if !slices.Contains(names, string(m)) {
			names = append(names, string(m))
		}
	}
	return names
}
