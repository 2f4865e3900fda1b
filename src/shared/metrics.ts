/**
 * What the service counts, as the layers see it: one small interface with a no-op default, so
 * storage, HL7 and auth count without knowing Prometheus (http/prom-metrics.ts implements it).
 * Labels carry only bounded, non-identifying values: route templates, message types, ACK codes,
 * OAuth error codes. Never an id, an NHS number, a client id or free text.
 */
export interface Metrics {
  /** One HTTP request answered: the route template (`/fhir/:type/:id`), method, status and seconds taken. */
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  /** One HL7 v2 message received over MLLP and answered: its MSH-9 type (`REF^I12`) and ACK code (AA, AE, AR, CA, CE, CR). */
  mllpMessage(type: string, ack: string): void;
  /** An access token issued by POST /auth/token. */
  tokenIssued(): void;
  /** A token request refused, by its OAuth error code (invalid_client, invalid_scope, ...). */
  tokenRefused(error: string): void;
  /** A database commit: seconds from the transaction's start to its acknowledged commit, and how many transactions shared it. */
  dbCommit(seconds: number, groupSize: number): void;
}

export const noMetrics: Metrics = {
  httpRequest: () => undefined,
  mllpMessage: () => undefined,
  tokenIssued: () => undefined,
  tokenRefused: () => undefined,
  dbCommit: () => undefined,
};

/** A label value only if it has the expected shape; anything else is 'other' (a hostile value never becomes a series). */
export function boundedLabel(value: string | undefined, shape: RegExp): string {
  return value !== undefined && shape.test(value) ? value : 'other';
}
