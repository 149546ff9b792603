/**
 * The fake authority (Entra ID) the fake ARM also serves, so a test can go through ClientSecretCredential
 * (or DefaultAzureCredential's environment credential) end to end: the OpenID configuration MSAL reads
 * first, and the client-credentials token endpoint. Tokens are random and remembered; the ARM side
 * accepts only tokens it issued (and a static one for in-process tests).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface AuthorityOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export class FakeAuthority {
  readonly tokens = new Set<string>();
  /** client ids that asked for a token, and the scope they asked for */
  readonly tokenRequests: { clientId: string; scope: string }[] = [];
  private readonly o: AuthorityOptions;

  constructor(options: AuthorityOptions) {
    this.o = options;
  }

  /** Answers the request if it is the authority's; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, base: string, body: string): boolean {
    const path = new URL(req.url ?? '/', base).pathname;
    const m = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token)$/.exec(path);
    if (!m) return false;
    const [, tenant, what] = m;
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    if (tenant !== this.o.tenantId && tenant !== 'organizations' && tenant !== 'common') {
      send(400, { error: 'invalid_tenant', error_description: `tenant ${tenant} not found` });
      return true;
    }
    if (what!.startsWith('v2.0')) {
      const root = `${base}/${tenant}`;
      send(200, {
        token_endpoint: `${root}/oauth2/v2.0/token`,
        authorization_endpoint: `${root}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${root}/oauth2/v2.0/logout`,
        device_authorization_endpoint: `${root}/oauth2/v2.0/devicecode`,
        jwks_uri: `${root}/discovery/v2.0/keys`,
        issuer: `${root}/v2.0`,
        response_types_supported: ['code', 'id_token', 'token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        tenant_region_scope: 'EU',
        cloud_instance_name: new URL(base).host,
      });
      return true;
    }
    const form = new URLSearchParams(body);
    const clientId = form.get('client_id') ?? '';
    const secret = form.get('client_secret') ?? '';
    this.tokenRequests.push({ clientId, scope: form.get('scope') ?? '' });
    if (
      form.get('grant_type') !== 'client_credentials' ||
      clientId !== this.o.clientId ||
      secret !== this.o.clientSecret
    ) {
      send(401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
      return true;
    }
    const token = randomBytes(24).toString('base64url');
    this.tokens.add(token);
    send(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
    return true;
  }
}
