import { resourceTypes } from './registry.js';

export interface ServerInfo {
  baseUrl: string;
  version: string;
  startedAt: string;
  /** Profile canonicals per resource type (from profiles/). */
  profiles?: Record<string, string[]>;
}

/**
 * The CapabilityStatement, derived from the same registry that drives routing, validation and search,
 * so what it claims is what the server does.
 */
export function capabilityStatement(info: ServerInfo): fhir4.CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: info.startedAt,
    publisher: 'Signpost',
    kind: 'instance',
    software: { name: 'Signpost', version: info.version },
    implementation: { description: 'Signpost social prescribing FHIR gateway', url: `${info.baseUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [{
      mode: 'server',
      interaction: [{ code: 'transaction' }, { code: 'batch' }],
      resource: resourceTypes.map((def): fhir4.CapabilityStatementRestResource => {
        const refParams = def.params.filter((p) => p.type === 'reference');
        const revFrom = resourceTypes.flatMap((other) => other.params
          .filter((p) => p.type === 'reference' && (p.targets?.length === 0 || p.targets?.includes(def.type)))
          .map((p) => `${other.type}:${p.name}`));
        const reads = ['read', 'vread', 'history-instance', 'history-type', 'search-type'] as const;
        const writes = def.readOnly ? [] : (['create', 'update', 'patch'] as const);
        return {
          type: def.type as fhir4.CapabilityStatementRestResource['type'],
          ...(info.profiles?.[def.type] ? { supportedProfile: info.profiles[def.type] } : {}),
          interaction: [...reads, ...writes].map((code) => ({ code })),
          versioning: 'versioned-update' as const,
          readHistory: true,
          updateCreate: !def.readOnly,
          conditionalCreate: !def.readOnly,
          conditionalRead: 'not-supported' as const,
          conditionalUpdate: false,
          conditionalDelete: 'not-supported' as const,
          ...(refParams.length ? { searchInclude: refParams.map((p) => `${def.type}:${p.name}`) } : {}),
          ...(revFrom.length ? { searchRevInclude: revFrom } : {}),
          searchParam: [
            { name: '_id', type: 'token' as const, documentation: 'Logical id' },
            { name: '_lastUpdated', type: 'date' as const, documentation: 'When the current version was committed' },
            ...def.params.map((p) => ({ name: p.name, type: p.type, documentation: p.description })),
          ],
        };
      }),
    }],
  };
}
