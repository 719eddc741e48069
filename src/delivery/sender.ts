import type { Delivery } from '../store/deliveries.js';
import type { Stored } from '../store/store.js';

/** How one try went: accepted, or not, and whether trying again can help. */
export type SendResult =
  | { ok: true }
  | { ok: false; retry: boolean; reason: string; retryAfterMs?: number };

/** Sends the events of one kind of receiver. */
export interface Sender {
  /** One try of one event, announcing the version `resource`; never throws. */
  send(delivery: Delivery, resource: Stored): Promise<SendResult>;
}

/**
 * What an HTTP answer means for the event (issue 9): 2xx delivered; 408, 429 and 5xx tried again
 * (the receiver is busy or broken, not the event); any other status is the receiver refusing this
 * event, which no retry will change, so it is given up with the receiver's reason. A Retry-After
 * (seconds) on 429 or 503 sets the earliest next try.
 */
export function httpResult(status: number, reason: string, retryAfter?: string | null): SendResult {
  if (status >= 200 && status < 300) return { ok: true };
  const retry = status === 408 || status === 429 || status >= 500;
  const seconds = retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
  return { ok: false, retry, reason: `${status} ${reason}`.trim(), ...(retry && seconds !== undefined ? { retryAfterMs: seconds * 1000 } : {}) };
}

/** What a receiver said in refusing: its OperationOutcome's diagnostics or text, else the start of its body. */
export function receiverReason(body: unknown): string {
  const oo = body as fhir4.OperationOutcome | undefined;
  if (oo?.resourceType === 'OperationOutcome') {
    const said = (oo.issue ?? []).map((i) => i.diagnostics ?? i.details?.text ?? i.code).filter(Boolean);
    if (said.length > 0) return said.join('; ');
  }
  if (typeof body === 'string') return body.slice(0, 300);
  return body === undefined ? '' : JSON.stringify(body).slice(0, 300);
}

/** A try that got no answer: the connection failed or the receiver took too long. Always tried again. */
export function unanswered(e: unknown, timeoutMs: number): { ok: false; retry: true; reason: string } {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const reason = err.name === 'TimeoutError' || err.name === 'AbortError'
    ? `no answer within ${timeoutMs} ms`
    : `no answer: ${err.cause?.code ?? err.cause?.message ?? err.message ?? String(e)}`;
  return { ok: false, retry: true, reason };
}
