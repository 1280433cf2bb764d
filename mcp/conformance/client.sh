#!/bin/sh
# The client command .ci/conformance gives the MCP conformance suite. The
# suite appends the server URL and, for the pre-registration scenario,
# passes the client's credentials in MCP_CONFORMANCE_CONTEXT as JSON
# ({"client_id": ..., "client_secret": ...}); they are handed to the
# example as -client-id and -client-secret. The client ID metadata
# document URL is the one the suite's server expects a client to publish.
set -eu
bin=${MCPCLIENT_BIN:?set MCPCLIENT_BIN to the built examples/mcpclient}
url=$1
set --
if [ -n "${MCP_CONFORMANCE_CONTEXT:-}" ]; then
	id=$(node -e 'const c=JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT); process.stdout.write(c.client_id||"")')
	secret=$(node -e 'const c=JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT); process.stdout.write(c.client_secret||"")')
	if [ -n "$id" ]; then
		set -- -client-id "$id" -client-secret "$secret"
	fi
fi
exec "$bin" -headless -timeout 25s -call test-tool \
	-client-metadata-url https://conformance-test.local/client-metadata.json \
	-mcp-2025-03-26 "$@" "$url"
