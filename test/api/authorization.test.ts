import { afterAll, beforeAll, it } from 'vitest';
import { startSecureTestGateway, type SecureTestGateway } from '../fixtures/secure-gateway.js';
import { arrangeReferralWorlds, type ReferralWorlds } from '../fixtures/referral-world.js';

let gw: SecureTestGateway;
let w: ReferralWorlds;
beforeAll(async () => { gw = await startSecureTestGateway(); w = await arrangeReferralWorlds(gw); });
afterAll(async () => { await gw.close(); });

it('explore', async () => {
  console.log(JSON.stringify(w, null, 1));
  const asset = await gw.as('communityAsset');
  const lw = await gw.as('linkWorker');
  const gp = await gw.as('referrer');
  const ogp = await gw.as('otherReferrer');
  const show = (n: string, r: { status: number; body: any }) => console.log(n, r.status, JSON.stringify(r.body).slice(0, 400));
  show('asset include focus', await asset.get('/fhir/Task?_include=Task:focus'));
  show('asset patient', await asset.get(`/fhir/Patient/${w.first.patient}`));
  show('asset patient by nhs', await asset.get(`/fhir/Patient?identifier=${w.first.nhsNumber}`));
  show('lw include', await lw.get('/fhir/Task?_include=Task:patient&_revinclude=Provenance:target'));
  show('ogp revinclude', await ogp.get('/fhir/ServiceRequest?_revinclude=Task:focus'));
  show('gp consent other', await gp.post('/fhir/Consent', { resourceType: 'Consent', status: 'active', scope: { text: 'x' }, category: [{ text: 'x' }], patient: { reference: `Patient/${w.second.patient}` } }));
  show('gp read other patient after', await gp.get(`/fhir/Patient/${w.second.patient}`));
  const sr = await gp.post('/fhir/ServiceRequest', { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${w.second.patient}` }, supportingInfo: [{ reference: `Consent/${w.second.consent}` }], requester: { reference: 'Organization/A81001' } });
  show('gp SR other', sr);
  show('gp read other patient after SR', await gp.get(`/fhir/Patient/${w.second.patient}`));
  show('gp read other consent after SR', await gp.get(`/fhir/Consent/${w.second.consent}`));
  const t = await lw.post('/fhir/Task', { resourceType: 'Task', status: 'requested', intent: 'order', focus: { reference: `ServiceRequest/${w.second.serviceRequest}` }, owner: { reference: 'Organization/SP001' } });
  show('lw task other', t);
  show('lw read other SR after', await lw.get(`/fhir/ServiceRequest/${w.second.serviceRequest}`));
  show('gp comm create', await gp.post('/fhir/Communication', { resourceType: 'Communication', status: 'completed' }));
  show('lw history other', await lw.get(`/fhir/Task/${w.second.task}/_history`));
  const h = await lw.get('/fhir/Task/_history');
  console.log('lw history', h.status, h.body.entry?.map((e: any) => e.resource.id), [w.first.task, w.first.childTask, w.second.task]);
  const n = await gw.as('referrer', 'system/Patient.rs');
  show('narrow SR', await n.get(`/fhir/ServiceRequest/${w.first.serviceRequest}`));
  show('narrow P', await n.get(`/fhir/Patient/${w.first.patient}`));
});
