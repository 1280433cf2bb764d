// oidc-provider configured as a FAPI 2.0 authorization server: its FAPI
// 2.0 profile, pushed authorization requests required, private_key_jwt
// client authentication, DPoP with server nonces required at every
// endpoint, revocation and userinfo. It signs in the fixed user
// "test-user" without any page: the interaction URL finishes the login at
// once, and every grant covers what the client asked for.
//
// The Go tests start it with FAPI_CONFIG={"port":N,"clients":[...]} and
// wait for the line "ready <issuer>" on stdout. With "profile":"oauth" in
// FAPI_CONFIG it is a plain OAuth 2.0 server instead, for servercheck: no
// FAPI profile and no DPoP, pushed authorization requests offered but not
// required, and the client authentication methods none,
// client_secret_basic, client_secret_post and private_key_jwt.
import crypto from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const { port, clients, profile } = JSON.parse(process.env.FAPI_CONFIG);
const plain = profile === 'oauth';
const issuer = `http://127.0.0.1:${port}`;
const signingKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [{ ...signingKey, kid: 'as-es256', alg: 'ES256', use: 'sig' }] },
  clientAuthMethods: plain ? ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] : ['private_key_jwt'],
  enabledJWA: {
    clientAuthSigningAlgValues: ['ES256', 'PS256', 'EdDSA'],
    dPoPSigningAlgValues: ['ES256', 'PS256', 'EdDSA'],
  },
  features: {
    fapi: { enabled: !plain, profile: '2.0' },
    dPoP: { enabled: !plain, nonceSecret: crypto.randomBytes(32), requireNonce: () => true },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: !plain },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    devInteractions: { enabled: false },
    // Resource indicators (RFC 8707) for APIs on loopback, as the
    // protected-API Transport sends them; their tokens carry the scope api.
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (new URL(resource).hostname !== '127.0.0.1') {
          throw new errors.InvalidTarget();
        }
        return { scope: 'api', accessTokenFormat: 'opaque' };
      },
    },
  },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  async loadExistingGrant(ctx) {
    const { Grant } = ctx.oidc.provider;
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      return Grant.find(grantId);
    }
    const grant = new Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope || 'openid');
    for (const resource of [ctx.oidc.params.resource || []].flat()) {
      grant.addResourceScope(resource, 'api');
    }
    await grant.save();
    return grant;
  },
});

const handle = provider.callback();
const server = http.createServer(async (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    try {
      await provider.interactionFinished(req, res, { login: { accountId: 'test-user' } }, { mergeWithLastSubmission: false });
    } catch (err) {
      res.statusCode = 500;
      res.end(String(err));
    }
    return;
  }
  handle(req, res);
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
server.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
