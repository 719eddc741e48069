import { describe, expect, it } from 'vitest';
import { link, relative } from '../fixtures/api.js';
import { moveTask, refer, type Versioned } from '../fixtures/referrals.js';
import { startSecureTestGateway, type AuthedClient } from '../fixtures/secure-gateway.js';

/**
 * DESIGN.md "Link-worker workflow", polling: a poller that repeats its query with T = the largest
 * meta.lastUpdated it has seen never misses a change, whatever commits meanwhile. Four writers refer
 * 200 patients and accept some of the Tasks while one link-worker platform polls, both ways the design
 * offers; afterwards every version the store holds must have been seen. Ten runs, each on a fresh store.
 */

const WRITERS = 4;
const REFERRALS = 200;
const RUNS = 10;

/** `Type/id` → the versionIds a poller saw. */
type Seen = Map<string, Set<string>>;

function see(seen: Seen, r: fhir4.Resource): string {
  const versions = seen.get(r.id!) ?? new Set<string>();
  versions.add(r.meta!.versionId!);
  seen.set(r.id!, versions);
  return r.meta!.lastUpdated!;
}

/**
 * Polls `first(T)` and every next page until `stopped()` is true at the start of a pass, then makes one
 * more full pass, so that the last one begins after every writer has finished. T starts at the epoch
 * and becomes the largest lastUpdated seen (instants here all have six fractional digits: string order
 * is time order).
 */
async function poll(api: AuthedClient, first: (since: string) => string, stopped: () => boolean): Promise<{ seen: Seen; passes: number }> {
  const seen: Seen = new Map();
  let since = '1970-01-01T00:00:00.000000Z';
  for (let passes = 1; ; passes++) {
    const last = stopped();
    let url: string | undefined = first(since);
    let newest = since;
    while (url) {
      const res = await api.get(url);
      expect(res.status, `${url}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(200);
      for (const e of (res.body as fhir4.Bundle).entry ?? []) {
        const at = see(seen, e.resource!);
        if (at > newest) newest = at;
      }
      const next = link(res.body as fhir4.Bundle, 'next');
      url = next && relative(next);
    }
    since = newest;
    if (last) return { seen, passes };
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function everyVersion(auditor: AuthedClient): Promise<Seen> {
  const all: Seen = new Map();
  let url: string | undefined = '/fhir/Task/_history?_count=1000';
  while (url) {
    const res = await auditor.get(url);
    expect(res.status).toBe(200);
    for (const e of (res.body as fhir4.Bundle).entry ?? []) see(all, e.resource!);
    const next = link(res.body as fhir4.Bundle, 'next');
    url = next && relative(next);
  }
  return all;
}

const missing = (expected: Seen, seen: Seen, only?: (id: string) => string | undefined) => [...expected].flatMap(([id, versions]) => {
  const wanted = only ? [only(id)].filter((v): v is string => v !== undefined) : [...versions];
  return wanted.filter((v) => !seen.get(id)?.has(v)).map((v) => `${id}/_history/${v}`);
});

describe('never-miss Task polling under concurrent writes', () => {
  it.each(Array.from({ length: RUNS }, (_, i) => [i + 1] as const))('run %i: every version written is seen by the history poller, every final version by the search poller', async (run) => {
    const gw = await startSecureTestGateway();
    try {
      const [gp, lw, auditor] = await Promise.all([gw.as('referrer'), gw.as('linkWorker'), gw.as('auditor')]);
      let writing = true;
      const stopped = () => !writing;
      const searchPoller = poll(lw, (since) => `/fhir/Task?owner=Organization/SP001&_lastUpdated=ge${since}&_sort=_lastUpdated&_count=50`, stopped);
      const historyPoller = poll(lw, (since) => `/fhir/Task/_history?_since=${since}&_count=50`, stopped);
      let next = 0;
      const writer = async (w: number) => {
        const mine: Versioned<fhir4.Task>[] = [];
        while (next < REFERRALS) {
          const n = next++;
          const { task } = await refer(gp, lw, 8_000_000 + run * 10_000 + n * 7); // spaced: nhsNumber skips invalid seeds upwards
          mine.push(task);
          // Every third referral, this writer also accepts one of its earlier Tasks: changes, not only creations.
          if (n % 3 === w % 3 && mine.length > 1) {
            const earlier = mine.shift()!;
            expect((await moveTask(lw, earlier, { status: 'accepted' })).status).toBe(200);
          }
        }
      };
      try {
        await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
      } finally {
        writing = false;
        await Promise.allSettled([searchPoller, historyPoller]); // never leave a poller running against a closed gateway
      }
      const [bySearch, byHistory] = await Promise.all([searchPoller, historyPoller]);
      const stored = await everyVersion(auditor);
      expect(stored.size).toBe(REFERRALS);
      const updated = [...stored.values()].filter((v) => v.size > 1).length;
      expect(updated, 'some Tasks changed while the pollers ran').toBeGreaterThan(20);
      expect(bySearch.passes + byHistory.passes, 'the pollers polled while the writers wrote').toBeGreaterThan(4);
      expect(missing(stored, byHistory.seen), 'versions the history poller never saw').toEqual([]);
      const latest = (id: string) => String(Math.max(...[...stored.get(id)!].map(Number)));
      expect(missing(stored, bySearch.seen, latest), 'final versions the search poller never saw').toEqual([]);
    } finally {
      await gw.close();
    }
  });
});
