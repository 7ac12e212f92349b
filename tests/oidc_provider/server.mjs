// A real OpenID Provider for cenomed's tests: the certified `oidc-provider`, on localhost.
// Usage: node server.mjs PORT CLIENTS_JSON
//   CLIENTS_JSON: [{"client_id": "...", "client_secret": "..."}]; each client gets the
//   client_credentials grant, and its access tokens are RS256 JWTs for the cenomed API
//   (resource indicator), whose `sub` is the client id.
//   A client listed with "redirect_uris": [...] is instead a web client (the browser sign-in):
//   the authorization code grant only, PKCE S256 required, RS256 ID tokens. Its users sign in
//   through oidc-provider's development interactions (a login form that takes any account id,
//   which becomes `sub`, then a consent form), which a test can fill in with plain HTTP.
// Prints "ready" on stdout once it listens; a fresh RSA signing key at every start.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, clientsJson] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const resource = process.env.OIDC_RESOURCE ?? 'urn:cenomed:api';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

const isWebClient = (client) => (client.redirect_uris ?? []).length > 0;

const clients = JSON.parse(clientsJson).map((client) => (isWebClient(client)
  ? {
    ...client,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }
  : {
    ...client,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }));
const webClientIds = new Set(clients.filter(isWebClient).map((client) => client.client_id));

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  // Every authorization request must carry an S256 code challenge, confidential client or not.
  pkce: { required: () => true },
  features: {
    // Only web clients can reach the interactions (the others have no authorization grant).
    devInteractions: { enabled: webClientIds.size > 0 },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // A web client asks for no API resource: its access token is the provider's own (for
      // userinfo), and what it signs in with is the ID token.
      defaultResource: (_ctx, client) => (webClientIds.has(client.clientId) ? undefined : resource),
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
