import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UniqueIdentifierConflict, VersionConflict, type Cursor, type SearchPage, type Store, type StoreTx } from '../../src/store/store.js';

export interface StoreHarness {
  /** A fresh, empty store. */
  open(): Promise<Store>;
  /** The same database opened again (after the previous handle was closed). */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const patient = (id: string, nhs?: string, family = 'Smith'): fhir4.Patient & { id: string } => ({
  resourceType: 'Patient', id, name: [{ family }],
  ...(nhs ? { identifier: [{ system: NHS, value: nhs }] } : {}),
});
const task = (id: string, status: fhir4.Task['status'], owner: string, authoredOn?: string): fhir4.Task & { id: string } => ({
  resourceType: 'Task', id, status, intent: 'order', owner: { reference: owner }, ...(authoredOn ? { authoredOn } : {}),
});

export interface StoreUnderTest {
  store: Store;
  harness: StoreHarness;
}

/** A fresh store from `harness` for each test of the enclosing describe, closed and removed after it. */
export function freshStorePerTest(harness: () => StoreHarness): StoreUnderTest {
  const t = {} as StoreUnderTest;
  beforeEach(async () => {
    t.harness = harness();
    t.store = await t.harness.open();
  });
  afterEach(async () => {
    await t.store.close();
    await t.harness.cleanup();
  });
  return t;
}

/** The behaviour every Store implementation must show; each implementation runs this suite. */
export function storeContract(name: string, harness: () => StoreHarness): void {
  describe(`Store contract: ${name}`, () => {
    const t = freshStorePerTest(harness);

    it('versions every write and keeps each version readable', async () => {
      const v1 = await t.store.transaction((tx) => tx.write(patient('p1'), { method: 'POST', expectVersion: 0 }));
      const v2 = await t.store.transaction((tx) => tx.write(patient('p1', undefined, 'Jones'), { method: 'PUT', expectVersion: 1 }));
      expect(v1.version).toBe(1);
      expect(v2.version).toBe(2);
      expect(v2.resource.meta.versionId).toBe('2');
      expect(v2.lastUpdated).toBeGreaterThan(v1.lastUpdated);
      const current = await t.store.transaction((tx) => tx.read('Patient', 'p1'));
      expect((current?.resource as fhir4.Patient).name?.[0]?.family).toBe('Jones');
      const old = await t.store.transaction((tx) => tx.vread('Patient', 'p1', 1));
      expect((old?.resource as fhir4.Patient).name?.[0]?.family).toBe('Smith');
      expect(await t.store.transaction((tx) => tx.vread('Patient', 'p1', 3))).toBeUndefined();
    });

    it('lists every version in commit order, or the versions of some types only, page by page', async () => {
      await t.store.transaction(async (tx) => {
        await tx.write(patient('p1'), { method: 'POST' });
        await tx.write(task('t1', 'requested', 'Organization/SP001'), { method: 'POST' });
        await tx.write(patient('p1', undefined, 'Jones'), { method: 'PUT' });
        await tx.write(task('t1', 'accepted', 'Organization/SP001'), { method: 'PUT' });
      });
      const first = await t.store.transaction((tx) => tx.versions(undefined, 1, ['Task']));
      const second = await t.store.transaction((tx) => tx.versions(first.next, 1, ['Task']));
      expect([...first.versions, ...second.versions].map((v) => `${v.id}/${v.version}`)).toEqual(['t1/1', 't1/2']);
      const all = await t.store.transaction((tx) => tx.versions(undefined, 10));
      expect(all.versions.map((v) => `${v.id}/${v.version}`)).toEqual(['p1/1', 't1/1', 'p1/2', 't1/2']);
      expect(all.next).toBeUndefined();
    });

    it('refuses a write whose expected version is not current', async () => {
      await t.store.transaction((tx) => tx.write(patient('p1'), { method: 'POST', expectVersion: 0 }));
      await expect(t.store.transaction((tx) => tx.write(patient('p1'), { method: 'POST', expectVersion: 0 }))).rejects.toBeInstanceOf(VersionConflict);
      await expect(t.store.transaction((tx) => tx.write(patient('p1'), { method: 'PUT', expectVersion: 5 }))).rejects.toBeInstanceOf(VersionConflict);
      const current = await t.store.transaction((tx) => tx.read('Patient', 'p1'));
      expect(current?.version).toBe(1);
    });

    it('discards every write of a transaction that throws, and only that transaction', async () => {
      const results = await Promise.allSettled([
        t.store.transaction((tx) => tx.write(patient('a'), { method: 'POST' })),
        t.store.transaction(async (tx) => {
          await tx.write(patient('b'), { method: 'POST' });
          throw new Error('changed my mind');
        }),
        t.store.transaction((tx) => tx.write(patient('c'), { method: 'POST' })),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const found = await t.store.transaction(async (tx) => [await tx.read('Patient', 'a'), await tx.read('Patient', 'b'), await tx.read('Patient', 'c')]);
      expect(found.map((f) => f?.id)).toEqual(['a', undefined, 'c']);
      const hist = await t.store.transaction((tx) => tx.history({ type: 'Patient', count: 10 }));
      expect(hist.versions.map((v) => v.id).sort()).toEqual(['a', 'c']);
    });

    it('enforces unique business identifiers, freeing an identifier when it is changed', async () => {
      await t.store.transaction((tx) => tx.write(patient('p1', '9434765919'), { method: 'POST' }));
      const dup = t.store.transaction((tx) => tx.write(patient('p2', '9434765919'), { method: 'POST' }));
      await expect(dup).rejects.toBeInstanceOf(UniqueIdentifierConflict);
      await expect(dup).rejects.toMatchObject({ existingId: 'p1' });
      expect(await t.store.transaction((tx) => tx.read('Patient', 'p2'))).toBeUndefined();
      // Re-writing the owner with the same identifier is fine; moving it frees the old value.
      await t.store.transaction((tx) => tx.write(patient('p1', '9434765919', 'Re'), { method: 'PUT' }));
      await t.store.transaction((tx) => tx.write(patient('p1', '4010232137'), { method: 'PUT' }));
      const p2 = await t.store.transaction((tx) => tx.write(patient('p2', '9434765919'), { method: 'POST' }));
      expect(p2.version).toBe(1);
    });

    it('names the holder of a unique identifier, as it is now', async () => {
      const nhs = 'https://fhir.nhs.uk/Id/nhs-number';
      await t.store.transaction((tx) => tx.write(patient('p1', '9434765919'), { method: 'POST' }));
      expect(await t.store.transaction((tx) => tx.identified('Patient', nhs, '9434765919'))).toBe('p1');
      expect(await t.store.transaction((tx) => tx.identified('Patient', nhs, '4010232137'))).toBeUndefined();
      expect(await t.store.transaction((tx) => tx.identified('Practitioner', nhs, '9434765919'))).toBeUndefined();
      await t.store.transaction((tx) => tx.write(patient('p1', '4010232137'), { method: 'PUT' }));
      expect(await t.store.transaction((tx) => tx.identified('Patient', nhs, '9434765919'))).toBeUndefined();
      expect(await t.store.transaction((tx) => tx.identified('Patient', nhs, '4010232137'))).toBe('p1');
    });

    it('assigns lastUpdated strictly increasing in commit order, also to concurrent transactions', async () => {
      const stored = await Promise.all(Array.from({ length: 50 }, (_, i) =>
        t.store.transaction((tx) => tx.write(task(`t${i}`, 'requested', 'Organization/o'), { method: 'POST' }))));
      const stamps = stored.map((s) => s.lastUpdated);
      expect(new Set(stamps).size).toBe(50);
      // Transactions queued in this order commit in this order.
      expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
    });

    it('searches by token, reference, date, string, id and lastUpdated', async () => {
      await t.store.transaction(async (tx) => {
        await tx.write(task('t1', 'requested', 'Organization/a', '2026-01-10'), { method: 'POST' });
        await tx.write(task('t2', 'accepted', 'Organization/a', '2026-02-10'), { method: 'POST' });
        await tx.write(task('t3', 'requested', 'Organization/b', '2026-03-10'), { method: 'POST' });
        await tx.write(patient('p1', '9434765919', 'Müller'), { method: 'POST' });
      });
      const ids = async (q: Parameters<StoreTx['search']>[0]) =>
        (await t.store.transaction((tx) => tx.search(q))).matches.map((m) => m.id);
      const base = { type: 'Task', sort: 'default' as const, count: 50 };
      expect(await ids({ ...base, filters: [{ kind: 'token', param: 'status', values: [{ code: 'requested' }] }] })).toEqual(['t1', 't3']);
      expect(await ids({ ...base, filters: [{ kind: 'token', param: 'status', values: [{ code: 'requested' }], not: true }] })).toEqual(['t2']);
      expect(await ids({ ...base, filters: [{ kind: 'reference', param: 'owner', targets: ['Organization/a'] }] })).toEqual(['t1', 't2']);
      expect(await ids({ ...base, filters: [
        { kind: 'reference', param: 'owner', targets: ['Organization/a'] },
        { kind: 'token', param: 'status', values: [{ code: 'accepted' }, { code: 'cancelled' }] },
      ] })).toEqual(['t2']);
      const feb = { lo: Date.UTC(2026, 1, 1) * 1000, hi: Date.UTC(2026, 2, 1) * 1000 - 1 };
      expect(await ids({ ...base, filters: [{ kind: 'date', param: 'authored-on', prefix: 'eq', range: feb }] })).toEqual(['t2']);
      expect(await ids({ ...base, filters: [{ kind: 'date', param: 'authored-on', prefix: 'ge', range: feb }] })).toEqual(['t2', 't3']);
      expect(await ids({ ...base, filters: [{ kind: 'date', param: 'authored-on', prefix: 'lt', range: feb }] })).toEqual(['t1']);
      expect(await ids({ ...base, filters: [{ kind: 'id', ids: ['t3', 'nope'] }] })).toEqual(['t3']);
      expect(await ids({ type: 'Patient', sort: 'default', count: 50, filters: [{ kind: 'token', param: 'identifier', values: [{ system: NHS, code: '9434765919' }] }] })).toEqual(['p1']);
      expect(await ids({ type: 'Patient', sort: 'default', count: 50, filters: [{ kind: 'token', param: 'identifier', values: [{ system: null, code: '9434765919' }] }] })).toEqual([]);
      const all = await t.store.transaction((tx) => tx.search({ ...base, filters: [] }));
      const t2 = all.matches.find((m) => m.id === 't2')!;
      expect(await ids({ ...base, filters: [{ kind: 'lastUpdated', prefix: 'ge', range: { lo: t2.lastUpdated, hi: t2.lastUpdated } }] })).toEqual(['t2', 't3']);
      expect(await ids({ ...base, filters: [{ kind: 'missing', param: 'authored-on', index: 'date', missing: true }] })).toEqual([]);
      const page = await t.store.transaction((tx) => tx.search({ ...base, filters: [], total: true, count: 2 }));
      expect(page.total).toBe(3);
    });

    it('returns a resource once when several values of the driving filter name it', async () => {
      await t.store.transaction(async (tx) => {
        await tx.write({ resourceType: 'Task', id: 'both', status: 'requested', intent: 'order', basedOn: [{ reference: 'ServiceRequest/a' }, { reference: 'ServiceRequest/b' }, { reference: 'ServiceRequest/a' }] } as fhir4.Task & { id: string }, { method: 'POST' });
        await tx.write(task('other', 'requested', 'Organization/x'), { method: 'POST' });
      });
      for (const targets of [['ServiceRequest/a'], ['ServiceRequest/a', 'ServiceRequest/b']]) {
        const page = await t.store.transaction((tx) => tx.search({ type: 'Task', sort: 'default', count: 10, total: true, filters: [{ kind: 'reference', param: 'based-on', targets }] }));
        expect(page.matches.map((m) => m.id)).toEqual(['both']);
        expect(page.total).toBe(1);
      }
    });

    it('pages in keyset order without skipping or repeating, in every sort order', async () => {
      await t.store.transaction(async (tx) => {
        for (let i = 0; i < 25; i++) await tx.write(task(`t${String(i).padStart(2, '0')}`, 'requested', 'Organization/a'), { method: 'POST' });
      });
      // Touch a few so that lastUpdated order differs from insertion order.
      await t.store.transaction(async (tx) => {
        for (const id of ['t03', 't11']) await tx.write(task(id, 'accepted', 'Organization/a'), { method: 'PUT' });
      });
      for (const sort of ['default', '_lastUpdated', '-_lastUpdated'] as const) {
        const seen: string[] = [];
        let after: Cursor | undefined;
        do {
          const page: SearchPage = await t.store.transaction((tx) =>
            tx.search({ type: 'Task', filters: [], sort, count: 7, ...(after ? { after } : {}) }));
          seen.push(...page.matches.map((m) => m.id));
          after = page.next;
        } while (after);
        expect(new Set(seen).size).toBe(25);
        expect(seen).toHaveLength(25);
        if (sort === '_lastUpdated') expect(seen.slice(-2)).toEqual(['t03', 't11']);
        if (sort === '-_lastUpdated') expect(seen.slice(0, 2)).toEqual(['t11', 't03']);
      }
    });

    it('lists history newest first, filtered by since and continued before a point', async () => {
      await t.store.transaction((tx) => tx.write(patient('p1'), { method: 'POST' }));
      const v2 = await t.store.transaction((tx) => tx.write(patient('p1', undefined, 'B'), { method: 'PUT' }));
      await t.store.transaction((tx) => tx.write(patient('p1', undefined, 'C'), { method: 'PATCH' }));
      await t.store.transaction((tx) => tx.write(patient('p2'), { method: 'POST' }));
      const inst = await t.store.transaction((tx) => tx.history({ type: 'Patient', id: 'p1', count: 10 }));
      expect(inst.versions.map((v) => [v.version, v.method])).toEqual([[3, 'PATCH'], [2, 'PUT'], [1, 'POST']]);
      const since = await t.store.transaction((tx) => tx.history({ type: 'Patient', since: v2.lastUpdated, count: 10 }));
      expect(since.versions.map((v) => `${v.id}@${v.version}`)).toEqual(['p2@1', 'p1@3', 'p1@2']);
      const first = await t.store.transaction((tx) => tx.history({ type: 'Patient', count: 2 }));
      expect(first.next).toBeDefined();
      const rest = await t.store.transaction((tx) => tx.history({ type: 'Patient', count: 2, before: first.next! }));
      expect([...first.versions, ...rest.versions].map((v) => `${v.id}@${v.version}`)).toEqual(['p2@1', 'p1@3', 'p1@2', 'p1@1']);
    });

    it('keeps data across a reopen and never reissues a lastUpdated', async () => {
      const before = await t.store.transaction((tx) => tx.write(patient('p1'), { method: 'POST' }));
      await t.store.close();
      t.store = await t.harness.reopen();
      const read = await t.store.transaction((tx) => tx.read('Patient', 'p1'));
      expect(read?.resource.meta.lastUpdated).toBe(before.resource.meta.lastUpdated);
      const after = await t.store.transaction((tx) => tx.write(patient('p2'), { method: 'POST' }));
      expect(after.lastUpdated).toBeGreaterThan(before.lastUpdated);
    });
  });
}

/** Grants, once-only claims and the audit ledger: the primitives the access policy and audit stand on. */
export function storeSupportContract(name: string, harness: () => StoreHarness): void {
  describe(`Store contract (policy and audit support): ${name}`, () => {
    const t = freshStorePerTest(harness);

    it('grants organisations a resource and filters searches and history by grant', async () => {
      await t.store.transaction(async (tx) => {
        await tx.write(patient('p1'), { method: 'POST' });
        await tx.write(patient('p2'), { method: 'POST' });
        await tx.grant('Patient', 'p1', ['A81001', 'SP001', 'A81001']);
        await tx.grant('Patient', 'p2', ['B82002']);
      });
      expect(await t.store.transaction((tx) => tx.grantsOf('Patient', 'p1'))).toEqual(['A81001', 'SP001']);
      const seen = await t.store.transaction((tx) => tx.search({ type: 'Patient', sort: 'default', count: 10, filters: [{ kind: 'granted', org: 'SP001' }] }));
      expect(seen.matches.map((m) => m.id)).toEqual(['p1']);
      const hist = await t.store.transaction((tx) => tx.history({ type: 'Patient', count: 10, granted: 'B82002' }));
      expect(hist.versions.map((v) => v.id)).toEqual(['p2']);
      await expect(t.store.transaction((tx) => tx.grant('Patient', 'nope', ['X']))).rejects.toThrow(/does not exist/);
    });

    it('revokes a grant: the organisation no longer finds or reads the resource, the others still do', async () => {
      await t.store.transaction(async (tx) => {
        await tx.write(patient('p1'), { method: 'POST' });
        await tx.grant('Patient', 'p1', ['A81001', 'V001']);
      });
      await t.store.transaction((tx) => tx.revoke('Patient', 'p1', ['V001', 'NOT-GRANTED']));
      expect(await t.store.transaction((tx) => tx.grantsOf('Patient', 'p1'))).toEqual(['A81001']);
      expect(await t.store.transaction((tx) => tx.read('Patient', 'p1', 'V001'))).toBeUndefined();
      expect((await t.store.transaction((tx) => tx.read('Patient', 'p1', 'A81001')))?.id).toBe('p1');
      const seen = await t.store.transaction((tx) => tx.search({ type: 'Patient', sort: 'default', count: 10, filters: [{ kind: 'granted', org: 'V001' }] }));
      expect(seen.matches).toEqual([]);
      await t.store.transaction((tx) => tx.revoke('Patient', 'nope', ['V001'])); // nothing to revoke is no error
    });

    it('claims a key once until it expires, returning what the first claim recorded', async () => {
      const far = Date.now() * 1000 + 60_000_000;
      expect(await t.store.transaction((tx) => tx.claimOnce('jti', 'client-a:1', 'first', far))).toBeUndefined();
      expect(await t.store.transaction((tx) => tx.claimOnce('jti', 'client-a:1', 'second', far))).toBe('first');
      expect(await t.store.transaction((tx) => tx.claimOnce('other', 'client-a:1', 'x', far))).toBeUndefined();
      const past = Date.now() * 1000 - 1;
      await t.store.transaction((tx) => tx.claimOnce('short', 'k', 'old', past));
      expect(await t.store.transaction((tx) => tx.claimOnce('short', 'k', 'new', far))).toBeUndefined();
      // A claim made inside a transaction that fails is not kept.
      await expect(t.store.transaction(async (tx) => {
        await tx.claimOnce('jti', 'client-a:2', 'v', far);
        throw new Error('rolled back');
      })).rejects.toThrow();
      expect(await t.store.transaction((tx) => tx.claimOnce('jti', 'client-a:2', 'again', far))).toBeUndefined();
      // recall reads without recording; expired values are not recalled.
      expect(await t.store.transaction((tx) => tx.recall('jti', 'client-a:2'))).toBe('again');
      expect(await t.store.transaction((tx) => tx.recall('jti', 'never-claimed'))).toBeUndefined();
      expect(await t.store.transaction((tx) => tx.claimOnce('jti', 'never-claimed', 'first', far))).toBeUndefined();
      await t.store.transaction((tx) => tx.remember('short', 'gone', 'v', past));
      expect(await t.store.transaction((tx) => tx.recall('short', 'gone'))).toBeUndefined();
      // The clean-up job removes exactly the expired ones.
      const before = (await t.store.transaction((tx) => tx.claimRows(undefined, 100))).length;
      expect(await t.store.transaction((tx) => tx.forgetExpiredClaims(Date.now() * 1000))).toBe(1);
      const left = await t.store.transaction((tx) => tx.claimRows(undefined, 100));
      expect(left).toHaveLength(before);
      expect(left.every((c) => c.expiresAt === far)).toBe(true);
      expect(await t.store.transaction((tx) => tx.forgetExpiredClaims(far))).toBe(left.length);
    });

    it('appends to the audit ledger, serving its events as read-only AuditEvents', async () => {
      const event = (seq: number, patientRef: string, outcome = '0') => JSON.stringify({
        resourceType: 'AuditEvent', id: String(seq), meta: { versionId: '1', lastUpdated: '2026-01-01T00:00:00.000000Z' },
        type: { code: 'rest' }, subtype: [{ code: 'read' }], outcome, recorded: '2026-01-01T00:00:00Z',
        agent: [{ requestor: true }], source: { observer: { display: 'x' } }, entity: [{ what: { reference: patientRef } }],
      });
      const t0 = await t.store.transaction(async (tx) => tx.now());
      expect(await t.store.transaction((tx) => tx.auditHead())).toBeUndefined();
      await t.store.transaction(async (tx) => {
        tx.now();
        tx.now();
        await tx.appendAudit({ seq: 1, json: event(1, 'Patient/p1'), hash: 'h1', recorded: t0, outcome: '0', subtype: 'read', org: 'A81001', entities: ['Patient/p1'] });
        await tx.appendAudit({ seq: 2, json: event(2, 'Patient/p2', '4'), hash: 'h2', recorded: t0 + 1, outcome: '4', subtype: 'search-type', entities: ['Patient/p2'] });
      });
      expect(await t.store.transaction((tx) => tx.auditHead())).toEqual({ seq: 2, hash: 'h2', recorded: t0 + 1 });
      expect((await t.store.transaction((tx) => tx.auditEntries(1, 10))).map((e) => e.hash)).toEqual(['h2']);
      const read = await t.store.transaction((tx) => tx.read('AuditEvent', '2'));
      expect(read?.version).toBe(1);
      expect((read?.resource as fhir4.AuditEvent).outcome).toBe('4');
      const ids = async (filters: import('../../src/store/store.js').Filter[]) =>
        (await t.store.transaction((tx) => tx.search({ type: 'AuditEvent', sort: 'default', count: 10, filters }))).matches.map((m) => m.id);
      expect(await ids([{ kind: 'reference', param: 'patient', targets: ['Patient/p1'] }])).toEqual(['1']);
      expect(await ids([{ kind: 'reference', param: 'agent', targets: ['Organization/A81001'] }])).toEqual(['1']);
      expect(await ids([{ kind: 'token', param: 'outcome', values: [{ code: '4' }] }])).toEqual(['2']);
      expect(await ids([{ kind: 'token', param: 'subtype', values: [{ code: 'read' }], not: true }])).toEqual(['2']);
      expect(await ids([{ kind: 'lastUpdated', prefix: 'gt', range: { lo: t0, hi: t0 } }])).toEqual(['2']);
      expect(await ids([{ kind: 'granted', org: 'A81001' }])).toEqual([]);
      const hist = await t.store.transaction((tx) => tx.history({ type: 'AuditEvent', count: 10 }));
      expect(hist.versions.map((v) => v.id)).toEqual(['2', '1']);
      await expect(t.store.transaction((tx) => tx.write({ resourceType: 'AuditEvent', id: '9' } as fhir4.AuditEvent & { id: string }, { method: 'POST' }))).rejects.toThrow(/ledger/);
      await expect(t.store.transaction((tx) => tx.appendAudit({ seq: 2, json: '{}', hash: 'x', recorded: t0 + 2, outcome: '0', subtype: 'read', entities: [] }))).rejects.toThrow();
      expect(await t.store.transaction((tx) => tx.auditHead())).toEqual({ seq: 2, hash: 'h2', recorded: t0 + 1 });
    });

    it('knows the ledger head across transactions sharing a commit, and forgets appends that rolled back', async () => {
      const entry = (seq: number, hash: string, at: number) =>
        ({ seq, json: JSON.stringify({ resourceType: 'AuditEvent', id: String(seq) }), hash, recorded: at, outcome: '0', subtype: 'read', entities: [`Patient/h${seq}`, `Patient/h${seq}`, 'Task/t'] });
      const appendAfterHead = (hash: string, fail = false) => t.store.transaction(async (tx) => {
        const head = await tx.auditHead();
        await tx.appendAudit(entry((head?.seq ?? 0) + 1, hash, tx.now()));
        if (fail) throw new Error('rolled back');
        return tx.auditHead();
      });
      // Queued together, so (in the embedded store) they share one commit; the failing one is undone alone.
      const outcomes = await Promise.allSettled([appendAfterHead('a'), appendAfterHead('b', true), appendAfterHead('c'), appendAfterHead('d', true)]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value?.seq : undefined))).toEqual([1, undefined, 2, undefined]);
      expect(await t.store.transaction((tx) => tx.auditHead())).toMatchObject({ seq: 2, hash: 'c' });
      expect((await t.store.transaction((tx) => tx.auditEntries(0, 10))).map((e) => e.hash)).toEqual(['a', 'c']);
      const bySeq = async (ref: string) => (await t.store.transaction((tx) =>
        tx.search({ type: 'AuditEvent', sort: 'default', count: 10, filters: [{ kind: 'reference', param: 'entity', targets: [ref] }] }))).matches.map((m) => m.id);
      expect(await bySeq('Task/t')).toEqual(['1', '2']);
      expect(await bySeq('Patient/h2')).toEqual(['2']);

      // In one commit: a later transaction sees the events of earlier ones, and one that read them and
      // then failed takes none of them with it.
      const readsLedger = (fail: boolean) => t.store.transaction(async (tx) => {
        const seen = (await tx.search({ type: 'AuditEvent', sort: 'default', count: 10, filters: [{ kind: 'reference', param: 'entity', targets: ['Task/t'] }] })).matches.map((m) => m.id);
        const chain = (await tx.auditEntries(0, 10)).map((e) => e.hash);
        if (fail) throw new Error('rolled back after reading');
        return { seen, chain };
      });
      const together = await Promise.allSettled([appendAfterHead('e'), readsLedger(true), appendAfterHead('f'), readsLedger(false), appendAfterHead('g', true)]);
      expect(together.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected']);
      const read = together[3]!.status === 'fulfilled' ? together[3].value as { seen: string[]; chain: string[] } : undefined;
      expect(read).toEqual({ seen: ['1', '2', '3', '4'], chain: ['a', 'c', 'e', 'f'] });
      expect((await t.store.transaction((tx) => tx.auditEntries(0, 10))).map((e) => e.hash)).toEqual(['a', 'c', 'e', 'f']);
      expect(await bySeq('Patient/h4')).toEqual(['4']);
      // References are case-sensitive, and an event that concerns nothing is found by :missing.
      expect(await bySeq('patient/h4')).toEqual([]);
      await t.store.transaction(async (tx) => tx.appendAudit({ ...entry(5, 'none', tx.now()), entities: [] }));
      const missing = async (m: boolean) => (await t.store.transaction((tx) => tx.search({
        type: 'AuditEvent', sort: 'default', count: 10, filters: [{ kind: 'missing', param: 'entity', index: 'reference', missing: m }],
      }))).matches.map((x) => x.id);
      expect(await missing(true)).toEqual(['5']);
      expect(await missing(false)).toEqual(['1', '2', '3', '4']);
      // An entry that does not follow the head is refused by its own transaction, whoever else shares the commit.
      const [wrong, right] = await Promise.allSettled([
        t.store.transaction(async (tx) => tx.appendAudit(entry(9, 'x', tx.now()))),
        appendAfterHead('h'),
      ]);
      expect(wrong.status).toBe('rejected');
      expect(right.status).toBe('fulfilled');
      expect(await t.store.transaction((tx) => tx.auditHead())).toMatchObject({ seq: 6, hash: 'h' });
    });
  });
}
