import { z } from 'zod';
import { apiSchemas } from './schemas.js';

/** One operation of the JSON API, as the OpenAPI document describes it. */
export interface ApiOperation {
  method: 'get' | 'post';
  /** OpenAPI path template under /api/v1 ('/referrals/{id}'). */
  path: string;
  operationId: string;
  summary: string;
  description: string;
  /** Component id of the request body's schema. */
  body?: string;
  /** Success status and the component id of its body. */
  success: { status: number; schema: string; description: string };
  /** Refusal statuses this operation can answer, each with what it means here. */
  refusals: Record<number, string>;
  /** Query parameters. */
  parameters?: { name: string; description: string }[];
  /** Request headers it reads. */
  headers?: readonly { name: string; description: string }[];
  /** Whether the call needs a bearer token (every call but the document itself does). */
  secured?: boolean;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/**
 * The OpenAPI 3.1 document of /api/v1: paths from the routes' descriptions, components generated from
 * the zod schemas the routes validate with, so the two cannot drift apart.
 */
export function openApiDocument(operations: readonly ApiOperation[], version: string): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(apiSchemas, { target: 'draft-2020-12', uri: (id) => `#/components/schemas/${id}` }) as {
    schemas: Record<string, Record<string, unknown>>;
  };
  // Each component is a document of its own to zod; inside one OpenAPI document the dialect is given once.
  for (const s of Object.values(schemas)) delete s.$schema;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const parameters = [
      ...[...op.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
        name, in: 'path', required: true, schema: { type: 'string' }, description: 'The referral\'s id',
      })),
      ...(op.parameters ?? []).map((p) => ({ name: p.name, in: 'query', required: false, schema: { type: 'string' }, description: p.description })),
      ...(op.headers ?? []).map((h) => ({ name: h.name, in: 'header', required: false, schema: { type: 'string' }, description: h.description })),
    ];
    const problem = { content: { 'application/problem+json': { schema: ref('Problem') } } };
    (paths[op.path] ??= {})[op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      description: op.description,
      ...(parameters.length ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(op.body) } } } } : {}),
      responses: {
        [op.success.status]: { description: op.success.description, content: { 'application/json': { schema: ref(op.success.schema) } } },
        ...Object.fromEntries(Object.entries(op.refusals).map(([status, description]) => [status, { description, ...problem }])),
      },
      ...(op.secured === false ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Signpost plain-JSON API',
      version,
      description: 'For referral tools and link-worker platforms without FHIR. Every call reads or writes the same FHIR '
        + 'resources as /fhir, with the same access tokens (POST /oauth2/token), access rules and audit trail. '
        + 'Refusals are RFC 9457 problem details.',
    },
    servers: [{ url: '/api/v1' }],
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /oauth2/token (client credentials)' },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
