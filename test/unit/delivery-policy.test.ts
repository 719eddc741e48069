import { describe, expect, it } from 'vitest';
import { deploymentSchema } from '../../src/config/deployment.js';
import { retryDelayMs } from '../../src/delivery/backoff.js';
import { CircuitBreakers } from '../../src/delivery/circuit-breakers.js';
import { httpResult, receiverReason } from '../../src/delivery/sender.js';

const settings = deploymentSchema.parse({ clients: [], organizations: [], delivery: { firstRetrySeconds: 5, maxRetrySeconds: 60 } }).delivery;

describe('retry spacing (backoff.ts)', () => {
  it('doubles from the first wait up to the longest, each wait in the upper half of its ceiling', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, settings, () => 1))).toEqual([5000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, settings, () => 0))).toEqual([2500, 5000, 10_000, 20_000, 30_000, 30_000]);
  });

  it('spreads the events one outage held back instead of sending them back together', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const waits = new Set(Array.from({ length: 50 }, () => Math.round(retryDelayMs(3, settings, random))));
    expect(waits.size).toBeGreaterThan(40);
    for (const w of waits) expect(w).toBeGreaterThanOrEqual(10_000);
  });

  it('waits at least as long as the receiver\'s Retry-After, but never beyond the longest wait', () => {
    expect(retryDelayMs(1, settings, () => 0, 30_000)).toBe(30_000);
    expect(retryDelayMs(1, settings, () => 0, 3_600_000)).toBe(60_000);
  });

  it('keeps the longest wait at least the first, as the config requires', () => {
    expect(deploymentSchema.safeParse({ clients: [], organizations: [], delivery: { firstRetrySeconds: 10, maxRetrySeconds: 5 } }).success).toBe(false);
  });
});

describe('circuit breakers (circuit-breakers.ts)', () => {
  it('opens after consecutive failures, stays open for the cooldown, then lets one try decide', () => {
    const b = new CircuitBreakers(3, 1000);
    b.failed('endpoint:A', 0);
    b.failed('endpoint:A', 10);
    expect(b.open(20)).toEqual([]);
    b.failed('endpoint:A', 20);
    expect(b.open(21)).toEqual(['endpoint:A']);
    expect(b.open(1019)).toEqual(['endpoint:A']);
    expect(b.open(1020)).toEqual([]); // half open: the next try decides
    b.failed('endpoint:A', 1030);
    expect(b.open(1031)).toEqual(['endpoint:A']); // one more failure opens it again at once
    b.succeeded('endpoint:A');
    expect(b.open(1031)).toEqual([]);
    b.failed('endpoint:A', 1040);
    expect(b.open(1041)).toEqual([]); // counting starts again after a success
  });

  it('keeps receivers apart', () => {
    const b = new CircuitBreakers(1, 1000);
    b.failed('endpoint:A', 0);
    expect(b.open(1)).toEqual(['endpoint:A']);
  });
});

describe('what an answer means (sender.ts)', () => {
  it.each([
    [200, true, false], [201, true, false], [204, true, false],
    [408, false, true], [429, false, true], [500, false, true], [502, false, true], [503, false, true],
    [400, false, false], [401, false, false], [403, false, false], [404, false, false], [409, false, false], [422, false, false],
  ])('%i: delivered %s, tried again %s', (status, ok, retry) => {
    const r = httpResult(status, 'why');
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.retry).toBe(retry);
  });

  it('takes Retry-After in seconds from a busy receiver, and the refusing receiver\'s own words', () => {
    expect(httpResult(429, 'slow down', '30')).toEqual({ ok: false, retry: true, reason: '429 slow down', retryAfterMs: 30_000 });
    expect(httpResult(400, 'bad', '30')).toEqual({ ok: false, retry: false, reason: '400 bad' });
    expect(receiverReason({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'no such patient' }, { severity: 'error', code: 'invalid', details: { text: 'and more' } }] }))
      .toBe('no such patient; and more');
    expect(receiverReason('<html>Bad Gateway</html>')).toBe('<html>Bad Gateway</html>');
  });
});
