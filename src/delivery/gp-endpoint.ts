import { Client } from 'fhir-kit-client';
import type { OrganizationConfig } from '../config/deployment.js';
import type { Stored } from '../store/store.js';
import { httpResult, receiverReason, unanswered, type SendResult, type Sender } from './sender.js';

type Endpoint = NonNullable<OrganizationConfig['endpoint']>;

/** A token fetched this long before it expires is fetched again: the receiver's clock may run ahead. */
const TOKEN_MARGIN_MS = 30_000;

class TokenError extends Error {}

/**
 * Pushes to a GP system's FHIR endpoint (DESIGN.md, deployment config): `PUT <base>/<type>/<id>` of the
 * version as the gateway stores it, same id and meta.versionId, so that a second delivery of an event
 * only writes the receiver's copy again. Authenticates with the configured bearer, or with a token
 * from the receiver's token endpoint (client credentials, client_secret_basic), kept until shortly
 * before it expires.
 */
export class GpEndpointSender implements Sender {
  private readonly client: Client;
  private token: { value: string; expiresAt: number } | undefined;

  constructor(private readonly endpoint: Endpoint, private readonly timeoutMs: number, private readonly now: () => number = Date.now) {
    this.client = new Client({ baseUrl: endpoint.url });
  }

  async send(_delivery: unknown, stored: Stored): Promise<SendResult> {
    let bearer: string | undefined;
    try {
      bearer = await this.bearer();
    } catch (e) {
      // A token endpoint that refuses is a configuration to fix: the event waits for it (and its tries
      // run out into the dead letters an auditor can retry once it is fixed).
      if (e instanceof TokenError) return { ok: false, retry: true, reason: e.message };
      const failed = unanswered(e, this.timeoutMs);
      return { ...failed, reason: `token endpoint: ${failed.reason}` };
    }
    try {
      await this.client.update({
        resourceType: stored.type as never, id: stored.id, body: stored.resource as never,
        options: {
          headers: { accept: 'application/fhir+json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
          signal: AbortSignal.timeout(this.timeoutMs),
        },
      });
      return { ok: true };
    } catch (e) {
      const response = (e as { response?: { status?: number; data?: unknown }; config?: { headers?: Headers } });
      if (typeof response.response?.status !== 'number') return unanswered(e, this.timeoutMs);
      const status = response.response.status;
      // A token the receiver no longer takes is fetched anew for the next try.
      if (status === 401 && this.endpoint.clientCredentials) {
        this.token = undefined;
        return { ok: false, retry: true, reason: `401 ${receiverReason(response.response.data)}`.trim() };
      }
      return httpResult(status, receiverReason(response.response.data), response.config?.headers?.get?.('retry-after'));
    }
  }

  private async bearer(): Promise<string | undefined> {
    const cc = this.endpoint.clientCredentials;
    if (!cc) return this.endpoint.bearer;
    if (this.token && this.token.expiresAt - TOKEN_MARGIN_MS > this.now()) return this.token.value;
    const res = await fetch(cc.tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded', accept: 'application/json',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(cc.clientId)}:${encodeURIComponent(cc.clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...(cc.scope ? { scope: cc.scope } : {}) }).toString(),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const body = await res.json().catch(() => undefined) as { access_token?: unknown; expires_in?: unknown; error?: unknown } | undefined;
    if (!res.ok || typeof body?.access_token !== 'string') {
      throw new TokenError(`token endpoint ${cc.tokenUrl} answered ${res.status}${typeof body?.error === 'string' ? ` ${body.error}` : ''}`);
    }
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in * 1000 : 300_000;
    this.token = { value: body.access_token, expiresAt: this.now() + lifetime };
    return this.token.value;
  }
}
