/**
 * Produces the request/response examples of docs/INTEGRATION.md against a real gateway.
 *
 *   node --import tsx docs/examples/generate.ts [output-dir]
 *
 * It starts `node --import tsx src/main.ts` on a fresh data directory with PORT=0, once to let the
 * gateway write its demo config and demo-credentials.json, then again after adding to that config:
 *  - `demo-gp-jwt`, a second client of the demo practice A81001 that authenticates by private_key_jwt
 *    (an ES384 key generated here), for the token example;
 *  - practice A81002 (Hillside Medical Centre) with no route and its client `demo-gp-a81002`, for the
 *    "no route" and "another practice" examples.
 * Every exchange is sent with fetch and written, request and response as they went over the wire
 * (access tokens and client assertions shortened), to <output-dir>/exchanges.md and exchanges.json.
 * The gateway is stopped at the end; the data directory is left for inspection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const root = path.resolve(import.meta.dirname, '../..');
const examples = path.join(root, 'profiles/examples');
const outDir = process.argv[2] ? path.resolve(process.argv[2]) : fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-examples-'));
fs.mkdirSync(outDir, { recursive: true });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-data-'));

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const REFERRAL_ID = 'https://signpost.health/fhir/Id/referral';

// ---------------------------------------------------------------- the gateway process

async function startGateway(): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, SIGNPOST_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*listening/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`gateway exited ${code}: ${err}`)));
  });
  return { child, base };
}

async function stopGateway(child: ChildProcess): Promise<void> {
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------- recording exchanges

interface Exchange {
  name: string;
  request: { method: string; url: string; headers: Record<string, string>; body?: unknown };
  response: { status: number; statusText: string; headers: Record<string, string>; body: unknown };
}
const exchanges: Exchange[] = [];
const SHOWN_RESPONSE_HEADERS = ['content-type', 'location', 'etag', 'last-modified', 'x-request-id', 'www-authenticate', 'retry-after'];

const shorten = (s: string) => (s.length > 40 ? `${s.slice(0, 24)}…${s.slice(-8)}` : s);

let base = '';

async function call(name: string, method: string, url: string, opts: { token?: string; headers?: Record<string, string>; body?: unknown; form?: Record<string, string> } = {}): Promise<Exchange['response']> {
  const headers: Record<string, string> = { Accept: 'application/fhir+json', ...(opts.headers ?? {}) };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    headers.Accept = 'application/json';
    body = new URLSearchParams(opts.form).toString();
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = headers['Content-Type'] ?? 'application/fhir+json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(`${base}${url}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  const shownHeaders: Record<string, string> = {};
  for (const h of SHOWN_RESPONSE_HEADERS) {
    const v = res.headers.get(h);
    if (v !== null) shownHeaders[h] = v;
  }
  const recordedHeaders = { ...headers };
  if (opts.token) recordedHeaders.Authorization = `Bearer ${shorten(opts.token)}`;
  const recordedBody = opts.form
    ? Object.fromEntries(Object.entries(opts.form).map(([k, v]) => [k, k === 'client_assertion' || k === 'client_secret' ? shorten(v) : v]))
    : opts.body;
  const response = { status: res.status, statusText: res.statusText, headers: shownHeaders, body: parsed };
  exchanges.push({ name, request: { method, url: `${base}${url}`, headers: recordedHeaders, ...(recordedBody !== undefined ? { body: recordedBody } : {}) }, response });
  return response;
}

// ---------------------------------------------------------------- data

/** Ten-digit NHS numbers with a valid Modulus 11 check digit, from the 999 test range. */
function nhsNumber(seed: number): string {
  for (let n = seed; ; n++) {
    const digits = String(999_000_000 + n).split('').map(Number);
    const sum = digits.reduce((acc, d, i) => acc + d * (10 - i), 0);
    const check = 11 - (sum % 11);
    if (check === 10) continue;
    return digits.join('') + String(check === 11 ? 0 : check);
  }
}
let seed = Math.floor(Date.now() / 1000) % 500_000;
const freshNhs = () => { const n = nhsNumber(seed); seed = Number(n.slice(3, 9)) + 1; return n; };

const read = (file: string) => fs.readFileSync(path.join(examples, file), 'utf8');
const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '');
let counter = 0;
const freshReferralId = (kind: string) => `A81001-${stamp}-${kind}-${String(++counter).padStart(3, '0')}`;

function patientResource(nhs: string, family: string, given: string, birthDate: string): fhir4.Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: NHS, value: nhs }],
    name: [{ use: 'official', family, given: [given] }],
    telecom: [{ system: 'phone', value: '07700 900456', use: 'mobile' }],
    gender: 'female',
    birthDate,
  };
}

function consentResource(patientRef: string): fhir4.Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy', display: 'Privacy Consent' }] },
    category: [{ coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/consent-categories-bars', code: 'DRC', display: 'Direct Care' }] }],
    patient: { reference: patientRef },
    dateTime: '2025-06-02T09:05:00+01:00',
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: { type: 'permit' },
  };
}

function referral(identifier: string, subject: fhir4.Reference, consentRef: string, practice = 'A81001', extra: Partial<fhir4.ServiceRequest> = {}): fhir4.ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    identifier: [{ system: REFERRAL_ID, value: identifier }],
    status: 'active',
    intent: 'order',
    code: { coding: [{ system: 'http://snomed.info/sct', code: '871731000000106', display: 'Referral to social prescribing service' }] },
    subject,
    authoredOn: '2025-06-02T09:10:00+01:00',
    requester: { type: 'Organization', identifier: { system: ODS, value: practice } },
    reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '422650009', display: 'Social isolation' }] }],
    supportingInfo: [{ reference: consentRef }],
    note: [{ text: 'Lives alone since her husband died; rarely leaves the house.' }],
    ...extra,
  };
}

function transactionExample(nhs: string, identifier: string, file = 'Bundle-sp-referral-transaction.json'): fhir4.Bundle {
  const text = read(file).split('9434765919').join(nhs).split('A81001-2025-referral-transaction').join(identifier);
  const bundle = JSON.parse(text) as fhir4.Bundle;
  delete bundle.id;
  return bundle;
}

function barsMessage(nhs: string, identifier: string, reason = 'new', status = 'active'): fhir4.Bundle {
  const bundle = JSON.parse(read('Bundle-sp-referral-bars-message.json').split('9000000106').join(nhs).split('A81001-2025-bars-000456').join(identifier)) as fhir4.Bundle;
  const header = bundle.entry![0]!.resource as fhir4.MessageHeader;
  header.reason = { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/message-reason-bars', code: reason }] };
  (bundle.entry![1]!.resource as fhir4.ServiceRequest).status = status as fhir4.ServiceRequest['status'];
  bundle.id = randomUUID();
  return bundle;
}

const entryOf = (bundle: fhir4.Bundle, type: string) => bundle.entry!.find((e) => e.resource?.resourceType === type)!;
const idFromLocation = (loc: string | undefined) => (loc ?? '').replace(/^.*\/fhir\//, '').split('/')[1]!;
const body = <T>(r: Exchange['response']) => r.body as T;

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  // First start: the gateway writes the demo config and demo-credentials.json.
  const first = await startGateway();
  await stopGateway(first.child);
  const configFile = path.join(dataDir, 'config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'demo-credentials.json'), 'utf8')) as { clients: { clientId: string; secret: string }[] };
  const secret = (id: string) => creds.clients.find((c) => c.clientId === id)!.secret;

  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'gp-key-1', alg: 'ES384', use: 'sig' };
  const otherSecret = randomBytes(24).toString('base64url');
  config.clients.push({ clientId: 'demo-gp-jwt', role: 'referrer', organization: 'A81001', jwks: { keys: [jwk] } });
  config.clients.push({ clientId: 'demo-gp-a81002', role: 'referrer', organization: 'A81002', secretSha256: createHash('sha256').update(otherSecret).digest('hex') });
  config.organizations.push({ ods: 'A81002', name: 'Hillside Medical Centre', kind: 'gp-practice' });
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });

  const gw = await startGateway();
  base = gw.base;
  try {
    await scenarios(secret, otherSecret, privateKey);
  } finally {
    await stopGateway(gw.child);
  }
  fs.writeFileSync(path.join(outDir, 'exchanges.json'), JSON.stringify({ base, dataDir, exchanges }, null, 2));
  fs.writeFileSync(path.join(outDir, 'exchanges.md'), render());
  process.stdout.write(`gateway ${base}, data ${dataDir}\nwrote ${exchanges.length} exchanges to ${outDir}/exchanges.md and exchanges.json\n`);
}

async function scenarios(secret: (id: string) => string, otherSecret: string, privateKey: Parameters<SignJWT['sign']>[0]): Promise<void> {
  // ------------------------------------------------------------ tokens
  await call('smart-configuration', 'GET', '/fhir/.well-known/smart-configuration');
  const basic = Buffer.from(`demo-gp:${secret('demo-gp')}`).toString('base64');
  const tokenRes = await call('token-secret-basic', 'POST', '/oauth2/token', { headers: { Authorization: `Basic ${basic}` }, form: { grant_type: 'client_credentials' } });
  exchanges.at(-1)!.request.headers.Authorization = `Basic ${shorten(basic)}`;
  const gp = body<{ access_token: string }>(tokenRes).access_token;
  await call('token-secret-post-scope', 'POST', '/oauth2/token', {
    form: { grant_type: 'client_credentials', client_id: 'demo-gp', client_secret: secret('demo-gp'), scope: 'system/ServiceRequest.crus system/Task.rs system/Communication.rs' },
  });
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', kid: 'gp-key-1', typ: 'JWT' })
    .setIssuer('demo-gp-jwt').setSubject('demo-gp-jwt').setAudience(`${base}/oauth2/token`)
    .setJti(randomUUID()).setIssuedAt().setExpirationTime('4m')
    .sign(privateKey);
  const [h, p] = assertion.split('.');
  exchanges.push({
    name: 'client-assertion-decoded',
    request: { method: '-', url: '-', headers: {}, body: { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) } },
    response: { status: 0, statusText: '', headers: {}, body: null },
  });
  const jwtForm = { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, scope: 'system/*.rs system/ServiceRequest.c' };
  await call('token-private-key-jwt', 'POST', '/oauth2/token', { form: jwtForm });
  await call('token-private-key-jwt-replayed', 'POST', '/oauth2/token', { form: jwtForm });
  await call('token-wrong-secret', 'POST', '/oauth2/token', { form: { grant_type: 'client_credentials', client_id: 'demo-gp', client_secret: 'not-the-secret' } });
  await call('token-scope-not-allowed', 'POST', '/oauth2/token', { form: { grant_type: 'client_credentials', client_id: 'demo-gp', client_secret: secret('demo-gp'), scope: 'system/AuditEvent.rs' } });
  await call('no-token', 'GET', '/fhir/Task');
  await call('gp-may-not-write-task', 'POST', '/fhir/Task', { token: gp, body: { resourceType: 'Task', status: 'requested', intent: 'order' } });

  const lwRes = await call('token-link-worker', 'POST', '/oauth2/token', { form: { grant_type: 'client_credentials', client_id: 'demo-link-worker', client_secret: secret('demo-link-worker') } });
  const lw = body<{ access_token: string }>(lwRes).access_token;
  const otherRes = await call('token-other-practice', 'POST', '/oauth2/token', { form: { grant_type: 'client_credentials', client_id: 'demo-gp-a81002', client_secret: otherSecret } });
  const other = body<{ access_token: string }>(otherRes).access_token;

  // ------------------------------------------------------------ (a) REST
  const nhsA = freshNhs();
  const patientA = patientResource(nhsA, 'Bennett', 'Margaret', '1951-07-22');
  const pRes = await call('a-patient', 'POST', '/fhir/Patient', { token: gp, headers: { 'If-None-Exist': `identifier=${NHS}|${nhsA}` }, body: patientA });
  const patientAId = idFromLocation(pRes.headers.location);
  await call('a-patient-again', 'POST', '/fhir/Patient', { token: gp, headers: { 'If-None-Exist': `identifier=${NHS}|${nhsA}` }, body: patientA });
  await call('a-patient-search', 'GET', `/fhir/Patient?identifier=${encodeURIComponent(`${NHS}|${nhsA}`)}`, { token: gp });
  const cRes = await call('a-consent', 'POST', '/fhir/Consent', { token: gp, body: consentResource(`Patient/${patientAId}`) });
  const consentAId = idFromLocation(cRes.headers.location);
  const refA = freshReferralId('rest');
  const srA = referral(refA, { reference: `Patient/${patientAId}` }, `Consent/${consentAId}`);
  const ifNoneA = `identifier=${REFERRAL_ID}|${refA}`;
  const srRes = await call('a-servicerequest', 'POST', '/fhir/ServiceRequest', { token: gp, headers: { 'If-None-Exist': ifNoneA, Prefer: 'return=representation' }, body: srA });
  const srAId = idFromLocation(srRes.headers.location);
  await call('a-servicerequest-again-if-none-exist', 'POST', '/fhir/ServiceRequest', { token: gp, headers: { 'If-None-Exist': ifNoneA }, body: srA });
  await call('a-servicerequest-again-plain', 'POST', '/fhir/ServiceRequest', { token: gp, body: srA });
  const refA2 = freshReferralId('rest');
  const srA2 = referral(refA2, { type: 'Patient', identifier: { system: NHS, value: nhsA } }, `Consent/${consentAId}`, 'A81001', {
    reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '160932005', display: 'Financial problem' }] }],
    performer: [{ type: 'Organization', identifier: { system: ODS, value: 'SP001' }, display: 'Riverside Social Prescribing Service' }],
  });
  delete srA2.note;
  const srA2Res = await call('a-servicerequest-by-nhs-number', 'POST', '/fhir/ServiceRequest', { token: gp, headers: { 'If-None-Exist': `identifier=${REFERRAL_ID}|${refA2}` }, body: srA2 });
  const srA2Id = idFromLocation(srA2Res.headers.location);
  await call('a-task', 'GET', `/fhir/Task?based-on=ServiceRequest/${srAId}`, { token: gp });

  // ------------------------------------------------------------ (b) transaction
  const nhsB = freshNhs();
  const refB = freshReferralId('tx');
  const txBundle = transactionExample(nhsB, refB);
  const txRes = await call('b-transaction', 'POST', '/fhir', { token: gp, body: txBundle });
  const srBId = idFromLocation(body<fhir4.Bundle>(txRes).entry!.map((e) => e.response?.location ?? '').find((l) => l.startsWith('ServiceRequest/')));
  await call('b-transaction-again', 'POST', '/fhir', { token: gp, body: txBundle });
  await call('b-consents-after-resend', 'GET', `/fhir/Consent?patient=${idFromLocation(body<fhir4.Bundle>(txRes).entry![0]!.response!.location)}&_summary=count`, { token: gp });
  await call('b-task', 'GET', `/fhir/Task?based-on=ServiceRequest/${srBId}`, { token: gp });

  // ------------------------------------------------------------ (c) BaRS message
  const nhsC = freshNhs();
  const refC = freshReferralId('bars');
  const msgC = barsMessage(nhsC, refC);
  const msgId = randomUUID();
  const mRes = await call('c-message', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': msgId }, body: msgC });
  const srCId = (body<fhir4.Bundle>(mRes).entry![1]!.resource as fhir4.ServiceRequest).id!;
  await call('c-message-repeat-same-request-id', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': msgId }, body: msgC });
  await call('c-message-repeat-new-request-id', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': randomUUID() }, body: msgC });
  await call('c-consents-after-resend', 'GET', `/fhir/Consent?patient=${(body<fhir4.Bundle>(mRes).entry![1]!.resource as fhir4.ServiceRequest).subject!.reference!.split('/')[1]}&_summary=count`, { token: gp });
  await call('c-stored-servicerequest', 'GET', `/fhir/ServiceRequest/${srCId}`, { token: gp });
  const cancel = barsMessage(nhsC, refC, 'update', 'revoked');
  await call('c-cancel', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': randomUUID() }, body: cancel });
  await call('c-after-cancel-reactivate', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': randomUUID() }, body: barsMessage(nhsC, refC, 'update', 'active') });
  await call('c-after-reactivate', 'GET', `/fhir/ServiceRequest?_id=${srCId}&_revinclude=Task:focus`, { token: gp });

  const nhsD = freshNhs();
  const refD = freshReferralId('bars');
  await call('c-new-for-delete', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': randomUUID() }, body: barsMessage(nhsD, refD) });
  await call('c-delete', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': randomUUID() }, body: barsMessage(nhsD, refD, 'delete') });

  // A practitioner requester and a HealthcareService performer, as BaRS senders send them.
  const nhsE = freshNhs();
  const refE = freshReferralId('bars');
  const msgE = barsMessage(nhsE, refE);
  const srE = entryOf(msgE, 'ServiceRequest').resource as fhir4.ServiceRequest;
  msgE.entry!.push(
    { fullUrl: 'urn:uuid:3c9d1f7e-0a44-4b5e-8d21-6f1e2a9b7c07', resource: { resourceType: 'Practitioner', identifier: [{ system: 'https://fhir.hl7.org.uk/Id/gmc-number', value: 'C1234567' }], name: [{ family: 'Shah', given: ['Priya'], prefix: ['Dr'] }] } as fhir4.Practitioner },
    { fullUrl: 'urn:uuid:3c9d1f7e-0a44-4b5e-8d21-6f1e2a9b7c08', resource: { resourceType: 'HealthcareService', identifier: [{ system: 'https://fhir.nhs.uk/Id/dos-service-id', value: '2000011111' }], name: 'Social prescribing link workers' } as fhir4.Resource },
  );
  srE.requester = { reference: 'urn:uuid:3c9d1f7e-0a44-4b5e-8d21-6f1e2a9b7c07' };
  srE.performer = [{ reference: 'urn:uuid:3c9d1f7e-0a44-4b5e-8d21-6f1e2a9b7c08' }];
  delete srE.supportingInfo;
  await call('c-practitioner-healthcareservice-no-supportinginfo', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': randomUUID() }, body: msgE });

  // What a message may not leave out.
  const msgF = barsMessage(freshNhs(), freshReferralId('bars'));
  delete (entryOf(msgF, 'ServiceRequest').resource as fhir4.ServiceRequest).identifier;
  const failedId = randomUUID();
  await call('c-missing-identifier', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': failedId }, body: msgF });
  const refF = freshReferralId('bars');
  (entryOf(msgF, 'ServiceRequest').resource as fhir4.ServiceRequest).identifier = [{ system: REFERRAL_ID, value: refF }];
  await call('c-fixed-same-request-id', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': failedId }, body: msgF });
  const msgG = barsMessage(freshNhs(), freshReferralId('bars'));
  delete (entryOf(msgG, 'ServiceRequest').resource as fhir4.ServiceRequest).reasonCode;
  await call('c-missing-reason', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': randomUUID() }, body: msgG });
  const msgH = barsMessage('9000000008', freshReferralId('bars'));
  await call('c-bad-nhs-number', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': randomUUID() }, body: msgH });
  await call('c-update-unknown', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': randomUUID() }, body: barsMessage(freshNhs(), 'A81001-unknown-referral', 'update', 'revoked') });
  const msgI = barsMessage(freshNhs(), freshReferralId('bars'));
  (msgI.entry![0]!.resource as fhir4.MessageHeader).eventCoding = { system: 'https://fhir.nhs.uk/CodeSystem/message-events-bars', code: 'booking-request' };
  await call('c-other-event', 'POST', '/fhir/$process-message', { token: gp, headers: { 'X-Request-Id': randomUUID() }, body: msgI });

  // ------------------------------------------------------------ rules: the profile's invalid examples
  const expected = JSON.parse(read('EXPECTED.json')) as { examples: { file: string; rule: string }[] };
  for (const e of expected.examples) {
    await call(`rule-${e.rule}`, 'POST', '/fhir', { token: gp, body: JSON.parse(read(e.file)) });
  }
  // rules on the REST path
  await call('rule-intent', 'POST', '/fhir/ServiceRequest', { token: gp, body: referral(freshReferralId('rest'), { reference: `Patient/${patientAId}` }, `Consent/${consentAId}`, 'A81001', { intent: 'proposal' }) });
  const noReason = referral(freshReferralId('rest'), { reference: `Patient/${patientAId}` }, `Consent/${consentAId}`);
  delete noReason.reasonCode;
  await call('rule-no-reason', 'POST', '/fhir/ServiceRequest', { token: gp, body: noReason });
  await call('rule-unknown-patient', 'POST', '/fhir/ServiceRequest', { token: gp, body: referral(freshReferralId('rest'), { type: 'Patient', identifier: { system: NHS, value: freshNhs() } }, `Consent/${consentAId}`) });
  const otherPatient = await call('rule-setup-other-patient', 'POST', '/fhir/Patient', { token: gp, body: patientResource(freshNhs(), 'Evans', 'Joan', '1940-01-09') });
  await call('rule-consent-other-patient', 'POST', '/fhir/ServiceRequest', { token: gp, body: referral(freshReferralId('rest'), { reference: `Patient/${idFromLocation(otherPatient.headers.location)}` }, `Consent/${consentAId}`) });
  await call('rule-performer-not-a-service', 'POST', '/fhir/ServiceRequest', {
    token: gp, body: referral(freshReferralId('rest'), { reference: `Patient/${patientAId}` }, `Consent/${consentAId}`, 'A81001', { performer: [{ type: 'Organization', identifier: { system: ODS, value: 'V001' } }] }),
  });
  await call('rule-requester-other-practice', 'POST', '/fhir', { token: other, body: transactionExample(freshNhs(), freshReferralId('tx')) });
  // A81002 has no route: its own referral without a performer cannot be routed.
  const nhsK = freshNhs();
  const noRoute: fhir4.Bundle = {
    resourceType: 'Bundle', type: 'transaction',
    entry: [
      { fullUrl: 'urn:uuid:8b1c0d52-0f6e-4a57-9d0a-3c1f6b2e7a01', resource: patientResource(nhsK, 'Price', 'Dylan', '1988-02-29'), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${NHS}|${nhsK}` } },
      { fullUrl: 'urn:uuid:8b1c0d52-0f6e-4a57-9d0a-3c1f6b2e7a02', resource: consentResource('urn:uuid:8b1c0d52-0f6e-4a57-9d0a-3c1f6b2e7a01'), request: { method: 'POST', url: 'Consent' } },
      { fullUrl: 'urn:uuid:8b1c0d52-0f6e-4a57-9d0a-3c1f6b2e7a03', resource: referral('A81002-norouted-1', { reference: 'urn:uuid:8b1c0d52-0f6e-4a57-9d0a-3c1f6b2e7a01' }, 'urn:uuid:8b1c0d52-0f6e-4a57-9d0a-3c1f6b2e7a02', 'A81002'), request: { method: 'POST', url: 'ServiceRequest' } },
    ],
  };
  await call('rule-no-route', 'POST', '/fhir', { token: other, body: noRoute });
  // The same patient referred by a second practice (the NHS number is already known to the gateway).
  const crossTx = transactionExample(nhsA, 'A81002-cross-1');
  const crossSr = entryOf(crossTx, 'ServiceRequest');
  (crossSr.resource as fhir4.ServiceRequest).requester = { type: 'Organization', identifier: { system: ODS, value: 'A81002' } };
  crossSr.request!.ifNoneExist = `identifier=${REFERRAL_ID}|A81002-cross-1`;
  await call('probe-second-practice-same-patient', 'POST', '/fhir', { token: other, body: crossTx });
  await call('probe-second-practice-patient-create', 'POST', '/fhir/Patient', { token: other, body: patientResource(nhsA, 'Bennett', 'Margaret', '1951-07-22') });

  // ------------------------------------------------------------ feedback by pull
  const since = body<fhir4.Bundle>(await call('fb-task-before', 'GET', `/fhir/Task?based-on=ServiceRequest/${srBId}`, { token: gp })).entry![0]!.resource!.meta!.lastUpdated!;
  // The demo link-worker client accepts the Task (INTEGRATION.md §2) and writes a message back, so that
  // the GP has something to read.
  const lwTask = body<fhir4.Bundle>(await call('lw-task', 'GET', `/fhir/Task?based-on=ServiceRequest/${srBId}`, { token: lw })).entry![0]!.resource as fhir4.Task;
  const { meta: taskMeta, ...taskBody } = lwTask;
  await call('lw-accept', 'PUT', `/fhir/Task/${lwTask.id}`, { token: lw, headers: { 'If-Match': `W/"${taskMeta!.versionId}"` }, body: { ...taskBody, status: 'accepted', businessStatus: { text: 'Link worker assigned' } } });
  await call('lw-communication', 'POST', '/fhir/Communication', {
    token: lw,
    body: {
      resourceType: 'Communication', status: 'completed',
      basedOn: [{ reference: `ServiceRequest/${srBId}` }],
      subject: { reference: (body<fhir4.Bundle>(txRes).entry![0]!.response!.location ?? '').split('/_history')[0] },
      sent: new Date().toISOString(),
      sender: { reference: 'Organization/SP001' },
      recipient: [{ reference: 'Organization/A81001' }],
      payload: [{ contentString: 'Referral accepted. First appointment with a link worker booked for 9 June.' }],
    },
  });
  await call('fb-task-by-based-on', 'GET', `/fhir/Task?based-on=ServiceRequest/${srBId}`, { token: gp });
  await call('fb-servicerequest-revinclude-task', 'GET', `/fhir/ServiceRequest?_id=${srBId}&_revinclude=Task:focus`, { token: gp });
  await call('fb-read-with-revinclude', 'GET', `/fhir/ServiceRequest/${srBId}?_revinclude=Task:focus`, { token: gp });
  await call('fb-servicerequest-revinclude-task-communication', 'GET', `/fhir/ServiceRequest?_id=${srBId}&_revinclude=Task:focus&_revinclude=Communication:based-on`, { token: gp });
  await call('fb-communication-by-based-on', 'GET', `/fhir/Communication?based-on=ServiceRequest/${srBId}`, { token: gp });
  await call('fb-poll-tasks', 'GET', `/fhir/Task?_lastUpdated=${encodeURIComponent(`ge${since}`)}&_sort=_lastUpdated`, { token: gp });
  await call('fb-poll-servicerequests', 'GET', `/fhir/ServiceRequest?requester=Organization/A81001&_lastUpdated=${encodeURIComponent(`ge${since}`)}&_sort=_lastUpdated&_revinclude=Task:focus`, { token: gp });
  await call('fb-poll-communications', 'GET', `/fhir/Communication?_lastUpdated=${encodeURIComponent(`ge${since}`)}&_sort=_lastUpdated`, { token: gp });
  await call('fb-task-history', 'GET', `/fhir/Task/${lwTask.id}/_history`, { token: gp });

  // ------------------------------------------------------------ revoking by REST
  const sr2 = body<fhir4.ServiceRequest>(await call('revoke-read', 'GET', `/fhir/ServiceRequest/${srA2Id}`, { token: gp }));
  const { meta: sr2Meta, ...sr2Body } = sr2;
  await call('revoke-put', 'PUT', `/fhir/ServiceRequest/${srA2Id}`, { token: gp, headers: { 'If-Match': `W/"${sr2Meta!.versionId}"` }, body: { ...sr2Body, status: 'revoked' } });
  await call('revoke-task', 'GET', `/fhir/Task?based-on=ServiceRequest/${srA2Id}`, { token: gp });
  await call('revoke-patch', 'PATCH', `/fhir/ServiceRequest/${srAId}`, {
    token: gp, headers: { 'If-Match': 'W/"1"', 'Content-Type': 'application/json-patch+json' }, body: [{ op: 'replace', path: '/status', value: 'revoked' }],
  });
  await call('revoke-patch-task', 'GET', `/fhir/Task?based-on=ServiceRequest/${srAId}`, { token: gp });

  // ------------------------------------------------------------ probes: updates of an accepted referral
  const srB = body<fhir4.ServiceRequest>(await call('probe-read-b', 'GET', `/fhir/ServiceRequest/${srBId}`, { token: gp }));
  const { meta: srBMeta, ...srBBody } = srB;
  await call('probe-update-performer-and-status', 'PUT', `/fhir/ServiceRequest/${srBId}`, {
    token: gp, headers: { 'If-Match': `W/"${srBMeta!.versionId}"` },
    body: { ...srBBody, status: 'completed', reasonCode: [{ text: 'anything' }], performer: [{ reference: 'Organization/V001' }] },
  });
  await call('probe-task-after-update', 'GET', `/fhir/Task?based-on=ServiceRequest/${srBId}`, { token: gp });
}

// ---------------------------------------------------------------- rendering

function render(): string {
  const out: string[] = [`# Signpost integration examples\n\nCaptured from ${base} (data in ${dataDir}) on ${new Date().toISOString()}.\n`];
  for (const x of exchanges) {
    out.push(`## ${x.name}\n`);
    if (x.request.method === '-') {
      out.push('```json', JSON.stringify(x.request.body, null, 2), '```\n');
      continue;
    }
    const req = [`${x.request.method} ${x.request.url.replace(base, '')}`, ...Object.entries(x.request.headers).map(([k, v]) => `${k}: ${v}`)];
    out.push('```http', req.join('\n'));
    if (x.request.body !== undefined) {
      out.push('', typeof x.request.headers['Content-Type'] === 'string' && x.request.headers['Content-Type'].startsWith('application/x-www-form')
        ? new URLSearchParams(x.request.body as Record<string, string>).toString()
        : JSON.stringify(x.request.body, null, 2));
    }
    out.push('```\n', '```http', [`HTTP/1.1 ${x.response.status} ${x.response.statusText}`, ...Object.entries(x.response.headers).map(([k, v]) => `${k}: ${v}`)].join('\n'), '');
    out.push(typeof x.response.body === 'string' ? x.response.body : JSON.stringify(x.response.body, null, 2), '```\n');
  }
  return out.join('\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
