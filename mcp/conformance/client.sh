#!/bin/sh
# The client command .ci/conformance gives the MCP conformance suite. The
# suite appends the server URL and passes what a user would have
# configured in MCP_CONFORMANCE_CONTEXT as JSON: pre-registered
# credentials ({"client_id": ..., "client_secret": ...}), a private key
# for private_key_jwt (private_key_pem, signing_algorithm), a workload's
# identity token (valid_jwt) or an enterprise user's ID token and identity
# provider (idp_id_token, idp_token_endpoint, idp_client_id). They become
# the example's flags; tokens and keys go through files, as a user would
# give them, never the command line. The client ID metadata document URL
# is the one the suite's server expects a client to publish.
set -eu
bin=${MCPCLIENT_BIN:?set MCPCLIENT_BIN to the built examples/mcpclient}
url=$1
set --
if [ -n "${MCP_CONFORMANCE_CONTEXT:-}" ]; then
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
	ctx() { node -e 'const c=JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT); process.stdout.write(String(c[process.argv[1]]??""))' "$1"; }
	id=$(ctx client_id)
	if [ -n "$id" ]; then
		set -- -client-id "$id" -client-secret "$(ctx client_secret)"
	fi
	if [ -n "$(ctx private_key_pem)" ]; then
		ctx private_key_pem >"$dir/client-key.pem"
		set -- "$@" -client-key "$dir/client-key.pem" -client-key-alg "$(ctx signing_algorithm)"
	fi
	if [ -n "$(ctx valid_jwt)" ]; then
		ctx valid_jwt >"$dir/workload.jwt"
		set -- "$@" -grant jwt-bearer -assertion-file "$dir/workload.jwt"
	fi
	if [ -n "$(ctx idp_id_token)" ]; then
		ctx idp_id_token >"$dir/id-token.jwt"
		set -- "$@" -grant id-jag -id-token-file "$dir/id-token.jwt" \
			-idp-token-url "$(ctx idp_token_endpoint)" -idp-client-id "$(ctx idp_client_id)"
	fi
fi
# What a user of these servers would choose, which the context does not say.
case "${MCP_CONFORMANCE_SCENARIO:-}" in
# A machine client: the suite's servers offer only this grant.
auth/client-credentials-*) set -- "$@" -grant client_credentials ;;
# Servers that want tokens bound to a key (DPoP).
auth/dpop*) set -- "$@" -dpop ;;
esac
"$bin" -headless -timeout 25s -call test-tool \
	-client-metadata-url https://conformance-test.local/client-metadata.json \
	-mcp-2025-03-26 "$@" "$url"
