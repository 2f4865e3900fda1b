/** FHIR interactions as plain data: no Express types below http/. */
import type { CapabilityStatement, Resource } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import type { ConformanceSource } from '../fhir/conformance.ts';
import type { Interaction } from '../fhir/interactions.ts';
import type { QueryParams } from '../fhir/search-parse.ts';

export interface FhirRequest {
  method: string;
  /** Path segments after /fhir, e.g. ['Task', '123', '_history']. */
  path: string[];
  query: QueryParams;
  body?: unknown;
  ifMatch?: string;
  ifNoneExist?: string;
  /** Conditional read (RFC 9110 §13.1): the client's ETag(s), or the time of its copy. */
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  /** The body's media type, lower case without parameters (PATCH: JSON Patch or FHIRPath Patch). */
  contentType?: string;
  /** `Prefer: handling=strict`. */
  strict?: boolean;
}

export interface FhirResponse {
  status: number;
  resource?: Resource;
  headers?: Record<string, string>;
}

export type { Interaction } from '../fhir/interactions.ts';
export type { ConformanceSource } from '../fhir/conformance.ts';

export interface FhirContext {
  repo: Repository;
  /** e.g. http://127.0.0.1:8080 (no /fhir). */
  baseUrl: string;
  capabilities: () => CapabilityStatement;
  conformance?: ConformanceSource;
  /** Scope check (security): throws 403 if the caller may not do `interaction` on `type`. */
  authorize?: (interaction: Interaction, type: string) => void;
  /** Writes the AuditEvent of this interaction before the response leaves (security). */
  audit?: (record: { interaction: Interaction | 'operation'; resourceType?: string; id?: string; status: number; entities: string[] }) => Promise<void>;
  /** Instance operations by "Type/$name" (e.g. Subscription/$status), answered through the caller's repository. */
  operations?: Record<string, (id: string, query: QueryParams, repo: Repository) => Promise<Resource>>;
}

export const fhirBase = (baseUrl: string) => `${baseUrl}/fhir`;
