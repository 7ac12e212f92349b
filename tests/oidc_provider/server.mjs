// A real OpenID Provider for cenomed's tests: the certified `oidc-provider`, on localhost.
// Usage: node server.mjs PORT CLIENTS_JSON
//   CLIENTS_JSON: [{"client_id": "...", "client_secret": "..."}]; each client gets the
//   client_credentials grant, and its access tokens are RS256 JWTs for the cenomed API
//   (resource indicator), whose `sub` is the client id.
// Prints "ready" on stdout once it listens; a fresh RSA signing key at every start.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, clientsJson] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const resource = process.env.OIDC_RESOURCE ?? 'urn:cenomed:api';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

const clients = JSON.parse(clientsJson).map((client) => ({
  ...client,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
}));

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, requested) => ({
        scope: 'api',
        audience: requested,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
