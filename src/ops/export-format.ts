/**
 * The layout of a store export (`npm run export`), read back by `npm run import`. The FHIR resources
 * follow the FHIR Bulk Data Access IG's output (https://hl7.org/fhir/uv/bulkdata/STU2/export.html):
 * one NDJSON file per resource type, each line one resource, and a manifest naming the files. Unlike a
 * Bulk Data export, every version is there (oldest first, as stored, with meta.versionId and
 * meta.lastUpdated), because moving a deployment must keep its history. What is not a FHIR resource
 * travels in files of its own beside them.
 */

export const MANIFEST = 'manifest.json';
/** The audit ledger as stored: `{ seq, json, hash }` per line, in chain order (AuditEvents render from these). */
export const LEDGER = 'audit-ledger.ndjson';
/** Who may see what: `{ type, id, org }` per line. */
export const GRANTS = 'access-grants.ndjson';
/** Unexpired once-only keys (assertion jti, Idempotency-Keys, recorded consents): `{ scope, key, value, expiresAt }`. */
export const CLAIMS = 'claims.ndjson';
/** Versions whose history method is not the usual one (POST for version 1, PUT after): `{ type, id, version, method }`. */
export const METHODS = 'history-methods.ndjson';

export const FORMAT = 'signpost-store-export/1';

export interface Manifest {
  /** The Bulk Data manifest's fields. */
  transactionTime: string;
  request: string;
  requiresAccessToken: false;
  output: { type: string; url: string; count: number }[];
  error: [];
  /** What else the export holds, and its format's version. */
  extension: {
    format: typeof FORMAT;
    versions: number;
    files: { name: string; count: number }[];
  };
}

export const typeFile = (type: string) => `${type}.ndjson`;

/** The method a version's history entry shows unless the export says otherwise. */
export const usualMethod = (version: number): 'POST' | 'PUT' => (version === 1 ? 'POST' : 'PUT');
