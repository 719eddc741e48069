import net from 'node:net';

export interface FailureLimiterOptions {
  /** Failures within the window after which a key is blocked. */
  maxFailures?: number;
  windowMs?: number;
  /** Keys remembered at most; beyond it, the least recently failing key is forgotten. */
  maxKeys?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

/**
 * Limits failed client authentication at the token endpoint, so secrets cannot be guessed at speed: a
 * key (a client id, or a network address) that failed `maxFailures` times within `windowMs` is blocked
 * until the first of those failures leaves the window (a sliding-window log of the last failures).
 *
 * In memory and per process: a restart forgives, which is acceptable because what it protects against
 * is online guessing, and guessing a 24-byte random secret needs far more than a few windows. Memory is
 * bounded: each key keeps at most `maxFailures` timestamps, and at most `maxKeys` keys are kept.
 */
export class FailureLimiter {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  /** Failure times per key, oldest first; the map is ordered by the last failure (least recent first). */
  private readonly failures = new Map<string, number[]>();

  constructor(options: FailureLimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 5 * 60_000;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Whole seconds until every one of `keys` may try again, or undefined when none is blocked. */
  retryAfter(keys: readonly string[]): number | undefined {
    const now = this.now();
    let until = 0;
    for (const key of keys) {
      const times = this.recent(key, now);
      if (times.length >= this.maxFailures) until = Math.max(until, (times[times.length - this.maxFailures] ?? now) + this.windowMs);
    }
    return until > now ? Math.max(1, Math.ceil((until - now) / 1000)) : undefined;
  }

  fail(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      const times = this.recent(key, now);
      times.push(now);
      if (times.length > this.maxFailures) times.splice(0, times.length - this.maxFailures);
      this.failures.delete(key);
      this.makeRoom(now);
      this.failures.set(key, times);
    }
  }

  /** How many keys are remembered (for tests of the bound). */
  get size(): number {
    return this.failures.size;
  }

  private recent(key: string, now: number): number[] {
    const times = this.failures.get(key);
    if (!times) return [];
    const fresh = times.filter((t) => t > now - this.windowMs);
    if (fresh.length === 0) this.failures.delete(key);
    return fresh;
  }

  private makeRoom(now: number): void {
    if (this.failures.size < this.maxKeys) return;
    // Forget keys whose failures have all aged out, then the least recently failing keys that are not
    // blocked, and blocked ones only as a last resort: a flood of fresh addresses cannot lift a block.
    const blocked = (times: number[]) => times.filter((t) => t > now - this.windowMs).length >= this.maxFailures;
    for (const [key, times] of this.failures) {
      if ((times[times.length - 1] ?? 0) <= now - this.windowMs) this.failures.delete(key);
    }
    for (const [key, times] of this.failures) {
      if (this.failures.size < this.maxKeys) return;
      if (!blocked(times)) this.failures.delete(key);
    }
    for (const key of this.failures.keys()) {
      if (this.failures.size < this.maxKeys) return;
      this.failures.delete(key);
    }
  }
}

/**
 * The rate-limit key of a remote address: IPv4 as is (also when IPv4-mapped), IPv6 by its /64, since one
 * host commonly holds a whole /64 and could otherwise take a fresh address for every attempt.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'addr:unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return `addr:${mapped[1]}`;
  if (net.isIPv6(address)) return `addr:${expandIPv6(address).slice(0, 4).join(':')}::/64`;
  return `addr:${address}`;
}

function expandIPv6(address: string): string[] {
  const [head = '', tail] = (address.split('%')[0] ?? '').split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...fill, ...right].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}

export const clientKey = (clientId: string): string => `client:${clientId}`;
