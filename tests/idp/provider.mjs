// A real OpenID provider (oidc-provider) on a loopback port, for the end-to-end
// test tests/tests/oidc_rotation.rs: `node tests/idp/provider.mjs PORT`.
//
// Issuer `http://127.0.0.1:PORT`. One confidential client (`warden-test`, secret
// `warden-test-secret`) may use the `client_credentials` grant; asking with
// `resource=https://api.example` gives an RS256 JWT access token for that
// audience (resource indicators, RFC 8707), which is what Warden verifies.
//
// A second client (`bound-test`, secret `bound-test-secret`) gets
// certificate-bound tokens (RFC 8705, the mTLS feature's
// `certificateBoundAccessTokens`): its token carries `cnf.x5t#S256` of the
// client certificate it asked with. The TLS is the test's own, on loopback:
// the certificate arrives URL-encoded in `x-client-cert`, as a TLS-terminating
// proxy in front of a provider passes it.
//
// DPoP (RFC 9449) is on: a token request that carries a `DPoP` proof gets a
// token bound to the proof's key (`cnf.jkt`).
//
// Opaque tokens: asking with `resource=https://opaque.example` gives a
// reference token, which Warden asks about at `/token/introspection` (RFC
// 7662) as the client `warden-introspector` (secret
// `warden-introspector-secret`); `/token/revocation` revokes one. `GET
// /admin/introspection-hits` answers how many introspections were asked. Asked
// with `Accept: application/token-introspection+jwt`, the answer is a JWT
// signed with the provider's key (RFC 9701), for `warden-introspector`.
//
// Two RSA signing keys are generated at start (never written anywhere). The
// provider first publishes and signs with the first one. `POST /admin/rotate`
// rotates as an IdP does when it replaces a key at once: a new Provider (its
// configuration, and so its key set, is fixed at construction) publishes both
// keys and signs with the second, and takes over the port's requests. `GET
// /admin/jwks-hits` answers how many times the key set (`GET /jwks`) was fetched.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const port = Number.parseInt(process.argv[2] ?? '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node provider.mjs PORT');
  process.exit(2);
}

const issuer = `http://127.0.0.1:${port}`;
const audience = 'https://api.example';
const opaqueAudience = 'https://opaque.example';

/** A fresh RSA-2048 private JWK for RS256 signatures, published under `kid`. */
function rsaJwk(kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

const keys = [rsaJwk(`old-${crypto.randomUUID()}`), rsaJwk(`new-${crypto.randomUUID()}`)];

/** A provider that publishes `published` and signs access tokens with `signing`. */
function provider(published, signing) {
  const p = new Provider(issuer, {
    jwks: { keys: published },
    clients: [
      {
        client_id: 'warden-test',
        client_secret: 'warden-test-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
      {
        client_id: 'warden-introspector',
        client_secret: 'warden-introspector-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        // RFC 9701: asked with `Accept: application/token-introspection+jwt`, the answer is a signed JWT.
        introspection_signed_response_alg: 'RS256',
      },
      {
        client_id: 'bound-test',
        client_secret: 'bound-test-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        tls_client_certificate_bound_access_tokens: true,
      },
    ],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      jwtIntrospection: { enabled: true },
      revocation: { enabled: true },
      // RFC 9449: a token request with a `DPoP` proof gets a token bound to its key (`cnf.jkt`).
      dPoP: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        getCertificate(ctx) {
          const sent = ctx.get('x-client-cert');
          return sent ? decodeURIComponent(sent) : undefined;
        },
      },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource === opaqueAudience) {
            return { audience: opaqueAudience, scope: 'read', accessTokenFormat: 'opaque', accessTokenTTL: 600 };
          }
          if (resource !== audience) {
            throw new Error(`unknown resource ${resource}`);
          }
          return {
            audience,
            scope: 'read',
            accessTokenFormat: 'jwt',
            accessTokenTTL: 600,
            jwt: { sign: { alg: 'RS256', kid: signing.kid } },
          };
        },
      },
    },
  });
  return p.callback();
}

let current = provider([keys[0]], keys[0]);
let rotated = false;
let jwksHits = 0;
let introspectionHits = 0;

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? '/', issuer).pathname;
  if (req.method === 'POST' && path === '/admin/rotate') {
    if (!rotated) {
      current = provider([keys[1], keys[0]], keys[1]);
      rotated = true;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ signing: keys[1].kid, previous: keys[0].kid }));
    return;
  }
  if (req.method === 'GET' && path === '/admin/jwks-hits') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ hits: jwksHits }));
    return;
  }
  if (req.method === 'GET' && path === '/jwks') {
    jwksHits += 1;
  }
  if (req.method === 'GET' && path === '/admin/introspection-hits') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ hits: introspectionHits }));
    return;
  }
  if (req.method === 'POST' && path === '/token/introspection') {
    introspectionHits += 1;
  }
  current(req, res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening at ${issuer}`);
});

// The test kills the process when it is done; a closed stdin (the test's end)
// also stops it, so no provider outlives its test.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
