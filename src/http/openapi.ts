/**
 * The OpenAPI 3.1 description of everything that is not FHIR (/eso/*, /hl7/v2, /auth/*, /admin/*,
 * /healthz, /readyz, /metrics), served at GET /openapi.json. The ESO request body is the project's
 * own JSON Schema (docs/eso-request.schema.json), not a copy. FHIR stays described by /fhir/metadata.
 * test/integration/operating/openapi.test.ts checks real responses against it.
 */
import { readFileSync } from 'node:fs';
import { projectPath } from '../shared/project-root.ts';

const ESO_REQUEST_SCHEMA = JSON.parse(readFileSync(projectPath('docs', 'eso-request.schema.json'), 'utf8')) as Record<string, unknown>;

const json = (schema: object) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const outcome = (description: string) => ({ description, content: { 'application/fhir+json': { schema: ref('OperationOutcome') } } });
/** The refusals every protected endpoint can answer. */
const refusals = {
  401: outcome('No valid bearer token'),
  403: outcome('The token lacks the scope this endpoint needs'),
};
const bearer = [{ bearer: [] }];

export function openApiDocument(opts: { version: string; baseUrl: string }): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'eso-bridge (non-FHIR endpoints)',
      version: opts.version,
      description: 'External second opinions for children between NHS Trusts. The FHIR R4 API is described by its CapabilityStatement at /fhir/metadata; this document covers the rest.',
    },
    servers: [{ url: opts.baseUrl || '/' }],
    externalDocs: { description: 'FHIR R4 CapabilityStatement', url: `${opts.baseUrl}/fhir/metadata` },
    security: bearer,
    paths: {
      '/eso/requests': {
        post: {
          summary: 'Ask for an external second opinion (plain JSON)', operationId: 'submitEsoRequest',
          requestBody: { required: true, content: json(ref('EsoRequest')) },
          responses: {
            201: { description: 'A new case', headers: { Location: { schema: { type: 'string' } } }, content: json(ref('EsoRequestResult')) },
            200: { description: 'The same request again (same requestId): the case made the first time', content: json(ref('EsoRequestResult')) },
            400: outcome('Not JSON, or a NUL character'), ...refusals, 413: outcome('Body too large'), 415: outcome('Not application/json'),
            422: outcome('The request breaks an ESO rule; `expression` points into the request'), 503: outcome('No storage space left: nothing was stored'),
          },
        },
      },
      '/eso/cases/{taskId}/timeline': {
        get: {
          summary: "The family's plain-language timeline of a case", operationId: 'caseTimeline',
          parameters: [{ name: 'taskId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$' } }],
          responses: {
            200: { description: 'The timeline (HTML for a browser that asks for text/html)', content: { ...json(ref('CaseTimeline')), 'text/html': { schema: { type: 'string' } } } },
            ...refusals, 404: outcome('No case the caller can see has this id'),
          },
        },
      },
      '/eso/overdue': {
        get: {
          summary: "The caller's open ESO Tasks past their due date", operationId: 'overdue',
          responses: { 200: { description: 'A FHIR searchset Bundle of Tasks', content: { 'application/fhir+json': { schema: ref('Bundle') } } }, ...refusals },
        },
      },
      '/hl7/v2': {
        post: {
          summary: 'HL7 v2 REF^I12 over HTTP; answered with the ACK', operationId: 'hl7v2',
          requestBody: { required: true, content: { 'x-application/hl7-v2+er7': { schema: { type: 'string' } } } },
          responses: { 200: { description: 'The HL7 v2 ACK (AA, AE or AR)', content: { 'x-application/hl7-v2+er7': { schema: { type: 'string' } } } }, ...refusals, 415: outcome('Not x-application/hl7-v2+er7') },
        },
      },
      '/auth/token': {
        post: {
          summary: 'SMART Backend Services token endpoint (client_credentials with a private_key_jwt assertion)', operationId: 'token', security: [],
          requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: ref('TokenRequest') } } },
          responses: { 200: { description: 'An access token', content: json(ref('TokenResponse')) }, 400: { description: 'OAuth error', content: json(ref('OAuthError')) }, 401: { description: 'invalid_client', content: json(ref('OAuthError')) } },
        },
      },
      '/auth/jwks': { get: { summary: "The server's public signing keys", operationId: 'jwks', security: [], responses: { 200: { description: 'A JWK Set', content: json(ref('Jwks')) } } } },
      '/admin/outbox': {
        get: {
          summary: "Outbound HL7 v2 messages (never their payload): an organisation sees its own EPR's", operationId: 'adminOutbox',
          parameters: [
            { name: 'status', in: 'query', schema: { enum: ['pending', 'sent', 'failed'] } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
          ],
          responses: { 200: { description: 'Oldest first', content: json(ref('Outbox')) }, 400: outcome('Bad status or limit'), ...refusals },
        },
      },
      '/healthz': { get: { summary: 'The process is up', operationId: 'healthz', security: [], responses: { 200: { description: 'Up', content: json(ref('Health')) } } } },
      '/readyz': {
        get: {
          summary: 'The database answers', operationId: 'readyz', security: [],
          responses: { 200: { description: 'Ready', content: json(ref('Health')) }, 503: { description: 'Database unreachable', content: json(ref('Health')) } },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics: on the metrics listener (ESO_METRICS_PORT) without a token; here only with authentication disabled', operationId: 'metrics',
          responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...refusals },
        },
      },
      '/openapi.json': { get: { summary: 'This document', operationId: 'openapi', security: [], responses: { 200: { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } } } },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /auth/token (SMART Backend Services)' } },
      schemas: {
        EsoRequest: withoutMeta(ESO_REQUEST_SCHEMA),
        EsoRequestResult: {
          type: 'object', required: ['created', 'task', 'serviceRequest'],
          properties: { created: { type: 'boolean' }, task: fhirResource('Task'), serviceRequest: fhirResource('ServiceRequest') },
        },
        CaseTimeline: {
          type: 'object', required: ['task', 'events'],
          properties: {
            task: { type: 'string' }, child: { type: 'string' }, provider: { type: 'string' }, requester: { type: 'string' },
            events: { type: 'array', items: { type: 'object', required: ['at', 'text'], properties: { at: { type: 'string' }, text: { type: 'string' }, by: { type: 'string' } } } },
          },
        },
        Bundle: fhirResource('Bundle'),
        OperationOutcome: {
          type: 'object', required: ['resourceType', 'issue'],
          properties: {
            resourceType: { const: 'OperationOutcome' },
            issue: { type: 'array', minItems: 1, items: { type: 'object', required: ['severity', 'code'], properties: { severity: { type: 'string' }, code: { type: 'string' }, diagnostics: { type: 'string' }, expression: { type: 'array', items: { type: 'string' } } } } },
          },
        },
        TokenRequest: {
          type: 'object', required: ['grant_type', 'client_assertion_type', 'client_assertion'],
          properties: { grant_type: { const: 'client_credentials' }, client_assertion_type: { const: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' }, client_assertion: { type: 'string' }, scope: { type: 'string' } },
        },
        TokenResponse: {
          type: 'object', required: ['access_token', 'token_type', 'expires_in'],
          properties: { access_token: { type: 'string' }, token_type: { const: 'bearer' }, expires_in: { type: 'integer', maximum: 300 }, scope: { type: 'string' } },
        },
        OAuthError: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, error_description: { type: 'string' } } },
        Jwks: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object', required: ['kty'], properties: { kty: { type: 'string' }, kid: { type: 'string' } } } } } },
        Outbox: {
          type: 'object', required: ['messages'],
          properties: {
            messages: {
              type: 'array',
              items: {
                type: 'object', additionalProperties: false,
                required: ['id', 'destination', 'kind', 'status', 'attempts', 'nextAttemptAt', 'lastError', 'createdAt', 'sentAt'],
                properties: {
                  id: { type: 'integer' }, destination: { type: 'string' }, kind: { type: 'string' }, status: { enum: ['pending', 'sent', 'failed'] },
                  attempts: { type: 'integer' }, nextAttemptAt: { type: 'string' }, lastError: { type: ['string', 'null'] }, createdAt: { type: 'string' }, sentAt: { type: ['string', 'null'] },
                },
              },
            },
          },
        },
        Health: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
      },
    },
  };
}

/** A FHIR resource of one type, described by /fhir/metadata and its profiles. */
function fhirResource(type: string): object {
  return { type: 'object', required: ['resourceType'], properties: { resourceType: { const: type } }, description: `A FHIR R4 ${type} (see /fhir/metadata)` };
}

/** The request schema as a component: its own $schema and $id would re-root its references. */
function withoutMeta(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}
