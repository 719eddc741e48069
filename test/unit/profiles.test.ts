/**
 * The conformance resources in profiles/ (see profiles/README.md): every JSON file is a structurally
 * valid R4 resource by an independent validator (@medplum/core over the published R4 definitions),
 * the ValueSets draw only on SNOMED CT or on a CodeSystem declared here and every SNOMED CT code has
 * a row in profiles/SOURCES.md, the valid examples carry Modulus-11-valid NHS numbers and only
 * references that resolve within the example set, and profiles/examples/EXPECTED.json describes each
 * invalid example (one broken rule each) so API tests can be table-driven from it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evalFhirPath } from '@medplum/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadR4Definitions, r4Errors } from '../fixtures/r4-validator.js';

const PROFILES = fileURLToPath(new URL('../../profiles/', import.meta.url));
const EXAMPLES = join(PROFILES, 'examples');
const SCT = 'http://snomed.info/sct';
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS_SYSTEMS = ['https://fhir.nhs.uk/Id/ods-organization-code', 'https://fhir.nhs.uk/id/ods-organization-code'];
const CANONICAL_BASE = 'https://signpost.health/fhir/';

type Json = Record<string, unknown>;
interface ElementDef { id: string; path: string; min?: number; sliceName?: string; constraint?: { key: string; expression: string }[] }
interface Loaded { file: string; resource: Json }

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return jsonFiles(path);
    return d.name.endsWith('.json') ? [path] : [];
  }).sort();
}

const all: Loaded[] = jsonFiles(PROFILES)
  .filter((f) => !f.endsWith('EXPECTED.json'))
  .map((f) => ({ file: relative(PROFILES, f), resource: JSON.parse(readFileSync(f, 'utf8')) as Json }));
const conformance = all.filter((l) => !l.file.startsWith('examples'));
const examples = all.filter((l) => l.file.startsWith('examples'));
const validExamples = examples.filter((l) => !l.file.startsWith('examples/invalid-'));
const invalidExamples = examples.filter((l) => l.file.startsWith('examples/invalid-'));
const ofType = (t: string) => all.filter((l) => l.resource.resourceType === t).map((l) => l.resource as unknown as Json);

interface Expected {
  file: string; rule: string; post: string; status: number; issueCode: string;
  expression: string; bundleExpression: string; entry: number; why: string;
}
const expectedTable = (JSON.parse(readFileSync(join(EXAMPLES, 'EXPECTED.json'), 'utf8')) as { examples: Expected[] }).examples;

/** NHS number Modulus 11: weights 10..2 over the first nine digits; 11 - (sum mod 11), 11 → 0, 10 invalid. */
function nhsNumberValid(value: string): boolean {
  if (!/^[0-9]{10}$/.test(value)) return false;
  const digits = [...value].map(Number);
  const sum = digits.slice(0, 9).reduce((acc, d, i) => acc + d * (10 - i), 0);
  const check = (11 - (sum % 11)) % 11;
  return check !== 10 && check === digits[9];
}

/** Every value under `node` whose key is `key` (depth-first). */
function collect(node: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const v of node) collect(v, key, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === key) out.push(v);
      collect(v, key, out);
    }
  }
  return out;
}

/** The resources of one example file: the resource itself, and each entry of a Bundle. */
function resourcesOf(r: Json): Json[] {
  const entries = (r.entry as { resource?: Json }[] | undefined) ?? [];
  return [r, ...entries.flatMap((e) => (e.resource ? [e.resource] : []))];
}

function nhsNumbers(r: Json): string[] {
  return resourcesOf(r)
    .filter((x) => x.resourceType === 'Patient')
    .flatMap((p) => ((p.identifier as { system?: string; value?: string }[] | undefined) ?? []))
    .filter((i) => i.system === NHS)
    .map((i) => i.value ?? '');
}

beforeAll(() => { loadR4Definitions(); });

describe('profiles/ holds structurally valid R4 resources', () => {
  it('has the expected conformance resources and examples', () => {
    expect(conformance.map((l) => l.file)).toEqual(expect.arrayContaining([
      'ValueSet-sp-referral-reasons.json', 'ValueSet-sp-task-status-reasons.json', 'CodeSystem-sp-task-status-reason.json',
      'StructureDefinition-sp-servicerequest.json', 'StructureDefinition-sp-task.json',
      'StructureDefinition-sp-consent.json', 'StructureDefinition-sp-patient.json',
    ]));
    expect(validExamples.length).toBeGreaterThanOrEqual(5);
    expect(invalidExamples.length).toBe(7);
  });

  it.each(all.map((l) => [l.file, l.resource] as const))('%s passes the R4 validator', (_file, resource) => {
    expect(r4Errors(resource)).toEqual([]);
  });

  it.each(all.map((l) => [l.file, l.resource] as const))('%s is named and identified as the conventions say', (file, resource) => {
    expect(readFileSync(join(PROFILES, file), 'utf8')).toBe(`${JSON.stringify(resource, null, 2)}\n`); // pretty-printed
    const id = resource.id as string;
    expect(id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    const name = file.split('/').pop()!;
    if (name.startsWith('invalid-')) expect(name).toBe(`${id}.json`);
    else expect(name).toBe(`${resource.resourceType as string}-${id}.json`);
  });

  it('gives each conformance resource its canonical under https://signpost.health/fhir/', () => {
    for (const { resource } of conformance) {
      expect(resource.url).toBe(`${CANONICAL_BASE}${resource.resourceType as string}/${resource.id as string}`);
    }
  });

  it('declares every StructureDefinition as an R4 resource constraint with a differential', () => {
    for (const sd of ofType('StructureDefinition')) {
      expect(sd).toMatchObject({ kind: 'resource', derivation: 'constraint', abstract: false, fhirVersion: '4.0.1' });
      expect(sd.baseDefinition).toBe(`http://hl7.org/fhir/StructureDefinition/${sd.type as string}`);
      const elements = (sd.differential as { element: { id: string; path: string }[] }).element;
      expect(elements.length).toBeGreaterThan(0);
      for (const e of elements) {
        expect(e.path.split('.')[0]).toBe(sd.type);
        expect(e.id.replace(/:[^.]+/g, '')).toBe(e.path);
      }
      expect(new Set(elements.map((e) => e.id)).size).toBe(elements.length);
    }
  });
});

describe('terminology', () => {
  const codeSystems = new Set(ofType('CodeSystem').map((cs) => cs.url as string));
  const sources = readFileSync(join(PROFILES, 'SOURCES.md'), 'utf8');

  it('draws every ValueSet code from SNOMED CT or from a CodeSystem declared in profiles/', () => {
    for (const vs of ofType('ValueSet')) {
      const includes = (vs.compose as { include: { system?: string; concept?: { code: string }[] }[] }).include;
      for (const inc of includes) expect([SCT, ...codeSystems]).toContain(inc.system);
    }
  });

  it('has a source row in SOURCES.md for every SNOMED CT code of the ValueSets', () => {
    for (const vs of ofType('ValueSet')) {
      const includes = (vs.compose as { include: { system?: string; concept?: { code: string; display?: string }[] }[] }).include;
      for (const c of includes.filter((i) => i.system === SCT).flatMap((i) => i.concept ?? [])) {
        expect(c.display, c.code).toBeTruthy();
        expect(sources, `${c.code} has no source row`).toMatch(new RegExp(`^\\| ${c.code} \\| ${c.display!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\|.*https?://`, 'm'));
      }
    }
  });

  it('includes the codes the referral rules rely on', () => {
    const codesOf = (id: string) => new Set(((ofType('ValueSet').find((v) => v.id === id)!.compose as { include: { concept?: { code: string }[] }[] })
      .include.flatMap((i) => i.concept ?? []).map((c) => c.code)));
    expect([...codesOf('sp-referral-reasons')]).toEqual(expect.arrayContaining(['267076002', '422650009', '160932005']));
    expect([...codesOf('sp-task-status-reasons')]).toContain('871711000000103');
  });

  it('binds reasonCode and statusReason (required) to the ValueSets here', () => {
    const binding = (sdId: string, path: string) => (ofType('StructureDefinition').find((s) => s.id === sdId)!.differential as { element: { path: string; binding?: unknown }[] })
      .element.find((e) => e.path === path)?.binding;
    expect(binding('sp-servicerequest', 'ServiceRequest.reasonCode')).toEqual({ strength: 'required', valueSet: `${CANONICAL_BASE}ValueSet/sp-referral-reasons` });
    expect(binding('sp-task', 'Task.statusReason')).toEqual({ strength: 'required', valueSet: `${CANONICAL_BASE}ValueSet/sp-task-status-reasons` });
  });
});

describe('examples', () => {
  it('the Modulus 11 check itself', () => {
    expect(nhsNumberValid('9000000009')).toBe(true);
    expect(nhsNumberValid('9434765919')).toBe(true);
    expect(nhsNumberValid('9000000008')).toBe(false);
    expect(nhsNumberValid('123456789')).toBe(false);
  });

  it.each(validExamples.map((l) => [l.file, l.resource] as const))('%s: every NHS number passes Modulus 11', (_f, resource) => {
    for (const n of nhsNumbers(resource)) expect(nhsNumberValid(n), n).toBe(true);
  });

  // Resolution rules: a relative reference T/id resolves to an example resource of that type and id
  // (or to a Bundle entry whose fullUrl ends so); a urn:uuid reference resolves to a fullUrl in the same
  // Bundle; a logical reference (identifier only) to an Organization resolves by its ODS code.
  const byTypeId = new Set(examples.flatMap((l) => resourcesOf(l.resource)).filter((r) => r.id).map((r) => `${r.resourceType as string}/${r.id as string}`));
  const odsCodes = new Set(examples.flatMap((l) => resourcesOf(l.resource))
    .filter((r) => r.resourceType === 'Organization')
    .flatMap((o) => (o.identifier as { system: string; value: string }[]))
    .filter((i) => ODS_SYSTEMS.includes(i.system)).map((i) => i.value));

  it.each(examples.map((l) => [l.file, l.resource] as const))('%s: every reference resolves within the example set', (_f, resource) => {
    const fullUrls = new Set(((resource.entry as { fullUrl?: string }[] | undefined) ?? []).map((e) => e.fullUrl));
    const refs = collect(resource, 'reference').filter((r): r is string => typeof r === 'string');
    if (!['Organization', 'Patient'].includes(resource.resourceType as string)) expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      if (ref.startsWith('urn:uuid:')) expect(fullUrls.has(ref), ref).toBe(true);
      else expect(byTypeId.has(ref) || fullUrls.has(ref), ref).toBe(true);
    }
    // logical references: objects with identifier and type but no reference
    const logical = collect(resource, 'requester').concat(collect(resource, 'performer').flat(), collect(resource, 'owner'))
      .filter((r): r is { type?: string; identifier?: { system: string; value: string }; reference?: string } => !!r && typeof r === 'object' && !('reference' in r));
    for (const l of logical) {
      expect(l.type).toBe('Organization');
      expect(ODS_SYSTEMS).toContain(l.identifier?.system);
      expect(odsCodes.has(l.identifier!.value), l.identifier!.value).toBe(true);
    }
  });

  it('the transaction Bundle creates the Patient conditionally on its NHS number and links by urn:uuid', () => {
    const b = examples.find((l) => l.file === 'examples/Bundle-sp-referral-transaction.json')!.resource;
    const entries = b.entry as { fullUrl: string; resource: Json; request: { method: string; url: string; ifNoneExist?: string } }[];
    expect(b.type).toBe('transaction');
    expect(entries.map((e) => e.resource.resourceType)).toEqual(['Patient', 'Consent', 'ServiceRequest']);
    for (const e of entries) expect(e.fullUrl).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    const [pat] = nhsNumbers(b);
    expect(entries[0]!.request).toEqual({ method: 'POST', url: 'Patient', ifNoneExist: `identifier=${NHS}|${pat}` });
  });

  it('the BaRS-style message has the MessageHeader shape of the published BaRS examples', () => {
    const b = examples.find((l) => l.file === 'examples/Bundle-sp-referral-bars-message.json')!.resource;
    const entries = b.entry as { fullUrl: string; resource: Json }[];
    expect(b.type).toBe('message');
    const mh = entries[0]!.resource;
    expect(mh.resourceType).toBe('MessageHeader');
    expect(mh.eventCoding).toEqual({ system: 'https://fhir.nhs.uk/CodeSystem/message-events-bars', code: 'servicerequest-request' });
    expect(mh.reason).toEqual({ coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/message-reason-bars', code: 'new' }] });
    const focus = (mh.focus as { reference: string }[])[0]!.reference;
    const sr = entries.find((e) => e.fullUrl === focus)!.resource;
    expect(sr).toMatchObject({ resourceType: 'ServiceRequest', intent: 'plan', status: 'active' });
    expect(sr.code).toBeUndefined();
    expect(sr.identifier).toBeDefined();
    expect(sr.reasonCode).toBeDefined();
  });
});

describe('valid examples meet the profiles here', () => {
  // The R4 validator checks base R4 only; these are the rules of our differentials, checked directly.
  const sds = ofType('StructureDefinition');
  const elementsOf = (type: string) => (sds.find((s) => s.type === type)!.differential as { element: ElementDef[] }).element;
  const vsCodes = (id: string) => new Set(((ofType('ValueSet').find((v) => v.id === id)!.compose as { include: { system?: string; concept?: { code: string }[] }[] })
    .include.flatMap((i) => (i.concept ?? []).map((c) => `${i.system}|${c.code}`))));
  const localCodes = new Set(ofType('CodeSystem').flatMap((cs) => (cs.concept as { code: string }[]).map((c) => `${cs.url as string}|${c.code}`)));
  const resources = validExamples.flatMap((l) => resourcesOf(l.resource).map((r) => [l.file, r] as const)).filter(([, r]) => r.resourceType !== 'Bundle');
  const barsFile = 'examples/Bundle-sp-referral-bars-message.json';

  it.each(sds.map((s) => [s.id as string, s] as const))('%s: each FHIRPath constraint holds on every valid example of its type', (_id, sd) => {
    const constraints = (sd.differential as { element: ElementDef[] }).element.flatMap((e) => (e.constraint ?? []).map((c) => ({ ...c, path: e.path, id: e.id })));
    if (constraints.length === 0) return; // sp-consent has none
    const ofThisType = resources.filter(([, r]) => r.resourceType === sd.type);
    expect(ofThisType.length).toBeGreaterThan(0);
    for (const [file, r] of ofThisType) {
      for (const c of constraints) {
        const focus = c.path === sd.type ? [r] : (c.id.includes(':nhsNumber') ? nhsNumbers(r) : []);
        for (const f of focus) expect(evalFhirPath(c.expression, f as never), `${file} ${c.key}`).toEqual([true]);
      }
    }
  });

  it.each(resources.map(([f, r]) => [`${f} ${r.resourceType as string}`, f, r] as const))('%s: minimum cardinalities of the differential', (_n, _f, r) => {
    if (!sds.some((s) => s.type === r.resourceType)) return;
    for (const e of elementsOf(r.resourceType as string).filter((x) => (x.min ?? 0) > 0 && x.path.split('.').length === 2 && !x.sliceName)) {
      const key = e.path.split('.')[1]!;
      if (_f === barsFile && key === 'code') continue; // BaRS sends no code; the message path supplies it
      expect(r[key], `${r.resourceType as string}.${key}`).toBeDefined();
    }
  });

  it('ServiceRequests: the social prescribing code, order or plan, reasons from the ValueSet, consent of the same patient that permits', () => {
    const reasons = vsCodes('sp-referral-reasons');
    for (const l of validExamples) {
      const inFile = resourcesOf(l.resource);
      const fullUrl = (ref: string) => ((l.resource.entry as { fullUrl: string; resource: Json }[] | undefined) ?? []).find((e) => e.fullUrl === ref)?.resource
        ?? all.flatMap((x) => resourcesOf(x.resource)).find((x) => `${x.resourceType as string}/${x.id as string}` === ref);
      for (const sr of inFile.filter((x) => x.resourceType === 'ServiceRequest')) {
        expect(['order', 'plan']).toContain(sr.intent);
        if (l.file !== barsFile) expect((sr.code as { coding: { system: string; code: string }[] }).coding).toContainEqual(expect.objectContaining({ system: SCT, code: '871731000000106' }));
        for (const rc of sr.reasonCode as { coding: { system: string; code: string }[] }[]) {
          expect(rc.coding.some((c) => reasons.has(`${c.system}|${c.code}`)), JSON.stringify(rc)).toBe(true);
        }
        const consent = fullUrl((sr.supportingInfo as { reference: string }[])[0]!.reference)!;
        expect(consent.resourceType).toBe('Consent');
        expect(consent.status).toBe('active');
        expect((consent.provision as { type?: string } | undefined)?.type).not.toBe('deny');
        expect((consent.patient as { reference: string }).reference).toBe((sr.subject as { reference: string }).reference);
      }
    }
  });

  it('Tasks: intent order, fulfil code, status reason from the ValueSet or the local CodeSystem', () => {
    const allowed = new Set([...vsCodes('sp-task-status-reasons'), ...localCodes]);
    for (const [file, t] of resources.filter(([, r]) => r.resourceType === 'Task')) {
      expect(t.intent, file).toBe('order');
      expect((t.code as { coding: { system: string; code: string }[] }).coding[0]).toMatchObject({ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' });
      for (const c of ((t.statusReason as { coding: { system: string; code: string }[] } | undefined)?.coding ?? [])) expect(allowed.has(`${c.system}|${c.code}`)).toBe(true);
    }
  });

  it('Patients: exactly one NHS number', () => {
    for (const [file, p] of resources.filter(([, r]) => r.resourceType === 'Patient')) expect(nhsNumbers(p), file).toHaveLength(1);
  });
});

describe('invalid examples and EXPECTED.json', () => {
  it('lists each invalid example exactly once, and only those', () => {
    expect(expectedTable.map((e) => `examples/${e.file}`).sort()).toEqual(invalidExamples.map((l) => l.file).sort());
  });

  it.each(expectedTable.map((e) => [e.file, e] as const))('%s: a complete row whose expression points at the resource at fault', (file, e) => {
    expect(e.post).toBe('/fhir');
    expect(e.status).toBe(422);
    expect(['invalid', 'required', 'code-invalid', 'business-rule', 'value']).toContain(e.issueCode);
    const bundle = invalidExamples.find((l) => l.file === `examples/${file}`)!.resource;
    const entry = (bundle.entry as { resource: Json }[])[e.entry]!.resource;
    expect(e.expression.split('.')[0]).toBe(entry.resourceType);
    expect(e.bundleExpression).toBe(`Bundle.entry[${e.entry}].resource.${e.expression.split('.').slice(1).join('.')}`);
  });

  const valid = examples.find((l) => l.file === 'examples/Bundle-sp-referral-transaction.json')!.resource;
  const strip = (b: Json) => {
    const c = JSON.parse(JSON.stringify(b)) as Json;
    delete c.id;
    return c;
  };
  /** The ServiceRequest of a transaction Bundle, without its identifier (which carries the example's id). */
  const srOf = (b: Json) => {
    const sr = JSON.parse(JSON.stringify((b.entry as { resource: Json }[]).find((e) => e.resource.resourceType === 'ServiceRequest')!.resource)) as Json;
    delete sr.identifier;
    return sr;
  };

  it('each breaks exactly its own rule: the rest is the valid transaction Bundle', () => {
    const validSr = srOf(valid);
    const byRule = Object.fromEntries(expectedTable.map((e) => [e.rule, strip(invalidExamples.find((l) => l.file === `examples/${e.file}`)!.resource)]));
    // NHS number: only the Patient's NHS number (and the conditional-create query built from it) differ
    expect(nhsNumbers(byRule['nhs-number-check-digit']!)).toEqual(['9000000008']);
    expect(nhsNumberValid('9000000008')).toBe(false);
    expect(srOf(byRule['nhs-number-check-digit']!)).toEqual(validSr);
    // The others keep a valid NHS number
    for (const [rule, b] of Object.entries(byRule).filter(([r]) => r !== 'nhs-number-check-digit')) {
      for (const n of nhsNumbers(b)) expect(nhsNumberValid(n), rule).toBe(true);
    }
    const without = (rule: string, key: string) => {
      const sr = srOf(byRule[rule]!);
      const v = { ...validSr };
      delete v[key];
      expect(sr[key], rule).toBeUndefined();
      delete sr[key];
      expect(sr, rule).toEqual(v);
    };
    expect((srOf(byRule['missing-identifier']!) as Json).identifier).toBeUndefined();
    expect(((byRule['missing-identifier']!.entry as { resource: Json }[])[2]!.resource).identifier).toBeUndefined();
    without('requester-missing', 'requester');
    without('no-consent', 'supportingInfo');
    expect((byRule['no-consent']!.entry as { resource: Json }[]).map((e) => e.resource.resourceType)).toEqual(['Patient', 'ServiceRequest']);
    const differsOnly = (rule: string, key: string) => {
      const sr = srOf(byRule[rule]!);
      expect(sr[key], rule).not.toEqual(validSr[key]);
      expect({ ...sr, [key]: validSr[key] }, rule).toEqual(validSr);
    };
    differsOnly('reason-not-in-valueset', 'reasonCode');
    differsOnly('wrong-sr-code', 'code');
    expect(srOf(byRule['consent-denied']!)).toEqual(validSr);
    const consentOf = (b: Json) => (b.entry as { resource: Json }[]).find((e) => e.resource.resourceType === 'Consent')!.resource;
    expect(consentOf(byRule['consent-denied']!)).toEqual({ ...consentOf(valid), provision: { type: 'deny' } });
  });

  it('the reason outside the ValueSet and the wrong code really are outside what the profile allows', () => {
    const reasons = new Set((ofType('ValueSet').find((v) => v.id === 'sp-referral-reasons')!.compose as { include: { concept: { code: string }[] }[] })
      .include.flatMap((i) => i.concept).map((c) => c.code));
    const bad = invalidExamples.find((l) => l.file === 'examples/invalid-reason-not-in-valueset.json')!.resource;
    const badSr = (bad.entry as { resource: Json }[])[2]!.resource as { reasonCode: { coding: { code: string }[] }[] };
    expect(reasons.has(badSr.reasonCode[0]!.coding[0]!.code)).toBe(false);
    const wrong = invalidExamples.find((l) => l.file === 'examples/invalid-wrong-sr-code.json')!.resource;
    const wrongSr = (wrong.entry as { resource: Json }[])[2]!.resource as { code: { coding: { code: string }[] } };
    expect(wrongSr.code.coding[0]!.code).not.toBe('871731000000106');
  });
});
