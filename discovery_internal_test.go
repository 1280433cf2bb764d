package pkce

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMetadataURLs(t *testing.T) {
	tests := []struct {
		name, issuer, oauth, openid string
	}{
		{"RFC 8414 §3.1: issuer without a path", "https://as.example",
			"https://as.example/.well-known/oauth-authorization-server",
			"https://as.example/.well-known/openid-configuration"},
		{"RFC 8414 §3.1: suffix inserted before a tenant path", "https://h.example/acme/oauth2/v1",
			"https://h.example/.well-known/oauth-authorization-server/acme/oauth2/v1",
			"https://h.example/acme/oauth2/v1/.well-known/openid-configuration"},
		{"RFC 8414 §3.1: terminating slash removed", "https://h.example/acme/",
			"https://h.example/.well-known/oauth-authorization-server/acme",
			"https://h.example/acme/.well-known/openid-configuration"},
		{"root slash removed", "https://as.example/",
			"https://as.example/.well-known/oauth-authorization-server",
			"https://as.example/.well-known/openid-configuration"},
		{"port and escaping kept", "http://127.0.0.1:8080/t%20x",
			"http://127.0.0.1:8080/.well-known/oauth-authorization-server/t%20x",
			"http://127.0.0.1:8080/t%20x/.well-known/openid-configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oauth, openid := metadataURLs(tt.issuer)
			assert.Equal(t, tt.oauth, oauth)
			assert.Equal(t, tt.openid, openid)
		})
	}
}
