/**
 * The Patient as a community-asset client sees it: enough to make contact, nothing else. No NHS number
 * or other identifier, no birth date, gender, address, GP or clinical content; the label REDACTED tells
 * the receiver that elements were removed (http://terminology.hl7.org/CodeSystem/v3-ObservationValue).
 */
export const REDACTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'REDACTED', display: 'redacted' };

export function minimisePatient(patient: fhir4.Patient): fhir4.Patient {
  const security = (patient.meta?.security ?? []).filter((c) => !(c.system === REDACTED.system && c.code === REDACTED.code));
  return {
    resourceType: 'Patient',
    ...(patient.id !== undefined ? { id: patient.id } : {}),
    meta: {
      ...(patient.meta?.versionId !== undefined ? { versionId: patient.meta.versionId } : {}),
      ...(patient.meta?.lastUpdated !== undefined ? { lastUpdated: patient.meta.lastUpdated } : {}),
      security: [...security, REDACTED],
    },
    ...(patient.name !== undefined ? { name: patient.name } : {}),
    ...(patient.telecom !== undefined ? { telecom: patient.telecom } : {}),
    ...(patient.communication !== undefined ? { communication: patient.communication.map((c) => ({ language: c.language, ...(c.preferred !== undefined ? { preferred: c.preferred } : {}) })) } : {}),
  };
}
