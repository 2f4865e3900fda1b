/**
 * One configuration schema: every key with its doc line, env name and default.
 * `npm start -- --help` prints it; the README's configuration table is generated from it.
 */
import * as z from 'zod';

export interface ConfigKey<T> {
  env: string;
  doc: string;
  default: string | undefined;
  parse: z.ZodType<T>;
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalString = z.string().min(1).optional();

function key<T>(env: string, doc: string, def: string | undefined, parse: z.ZodType<T>): ConfigKey<T> {
  return { env, doc, default: def, parse };
}

export const configSchema = {
  port: key('PORT', 'HTTP port of the FHIR, ESO and auth APIs (0 = any free port)', '8080', port),
  host: key('HOST', 'HTTP address to listen on', '127.0.0.1', z.string().min(1)),
  baseUrl: key('ESO_BASE_URL', 'Public base URL used in links, Location headers and token audiences (default http://HOST:PORT)', undefined, z.url().optional()),
  dataDir: key('ESO_DATA_DIR', 'Directory for the SQLite database and the server signing keys', './data', z.string().min(1)),
  databaseUrl: key('DATABASE_URL', 'PostgreSQL connection URL; unset = embedded SQLite in ESO_DATA_DIR', undefined,
    z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional()),
  logLevel: key('LOG_LEVEL', 'Log level: fatal, error, warn, info, debug, trace or silent', 'info',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
  maxBodyBytes: key('ESO_MAX_BODY_BYTES', 'Largest request body accepted (bytes); larger is 413', '5242880', positiveInt),
  clientsFile: key('ESO_CLIENTS_FILE', 'JSON file of registered SMART Backend Services clients ({"clients":[...]}); default: ESO_DATA_DIR/clients.json, re-read when it changes', undefined, optionalString),
  directoryFile: key('ESO_DIRECTORY_FILE', 'JSON file of the administered directory ({"organizations":[{"ods","name","partOf"}]}): where each organisation sits; default: ESO_DATA_DIR/directory.json, re-read when it changes', undefined, optionalString),
  tokenLifetimeSeconds: key('ESO_TOKEN_LIFETIME_SECONDS', 'Lifetime of issued access tokens (at most 300)', '300', z.coerce.number().int().min(10).max(300)),
  signingKeyFile: key('ESO_SIGNING_KEY_FILE', 'Server signing keys (JWK or {"keys":[...]} JSON, ES384); default: ESO_DATA_DIR/signing-keys.json, created on first start', undefined, optionalString),
  externalIssuer: key('ESO_EXTERNAL_ISSUER', 'Issuer of tokens from an external authorization server (national gateway) to accept', undefined, optionalString),
  externalJwksUrl: key('ESO_EXTERNAL_JWKS_URL', 'JWKS URL of the external authorization server', undefined, z.url().optional()),
  externalOdsClaim: key('ESO_EXTERNAL_ODS_CLAIM', 'Claim of external tokens that carries the ODS code', 'ods_code', z.string().min(1)),
  externalAudience: key('ESO_EXTERNAL_AUDIENCE', 'Audience external tokens must carry (default: this server\'s FHIR base URL)', undefined, optionalString),
  externalAlgorithms: key('ESO_EXTERNAL_ALGORITHMS', 'Comma-separated signature algorithms accepted on external tokens (asymmetric only)', 'RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512',
    z.string().transform((v) => v.split(',').map((a) => a.trim()).filter(Boolean))
      .refine((l) => l.length > 0 && l.every((a) => /^(RS|PS|ES)(256|384|512)$/.test(a)), 'only RS*, PS* and ES* (256/384/512) algorithms')),
  jwksTimeoutMs: key('ESO_JWKS_TIMEOUT_MS', 'Timeout for fetching a remote JWKS (client jwks_uri, external issuer) in ms', '5000', positiveInt),
  jwksCooldownMs: key('ESO_JWKS_COOLDOWN_MS', 'Least time between two fetches of a remote JWKS caused by unknown kids (ms); also the least cache time', '10000', z.coerce.number().int().min(0)),
  authDisabled: key('ESO_AUTH_DISABLED', 'Development only (refused unless HOST is loopback): requests without a token act as the system, with no tenancy', 'false', z.enum(['true', 'false']).transform((v) => v === 'true')),
  metricsPort: key('ESO_METRICS_PORT', 'Port of a separate listener serving GET /metrics (Prometheus) without a token; unset = none (the main listener answers /metrics only with ESO_AUTH_DISABLED)', undefined, port.optional()),
  metricsHost: key('ESO_METRICS_HOST', 'Address of the metrics listener: keep it inside the network boundary (metrics cover every organisation)', '127.0.0.1', z.string().min(1)),
  mllpPort: key('MLLP_PORT', 'MLLP listener port for HL7 v2 (0 = any free port)', '2575', port),
  mllpHost: key('MLLP_HOST', 'MLLP listener address', '127.0.0.1', z.string().min(1)),
  mllpEnabled: key('MLLP_ENABLED', 'Start the MLLP listener', 'true', z.enum(['true', 'false']).transform((v) => v === 'true')),
  mllpMaxMessageBytes: key('MLLP_MAX_MESSAGE_BYTES', 'Largest HL7 v2 message accepted over MLLP (bytes); larger gets AR', '1048576', positiveInt),
  mllpIdleTimeoutMs: key('MLLP_IDLE_TIMEOUT_MS', 'Close an MLLP connection idle this long (ms)', '60000', positiveInt),
  mllpAllowedSenders: key('MLLP_ALLOWED_SENDERS', 'Comma-separated ODS codes allowed to send over MLLP, an extra narrowing (default: none); a sender must always be admitted by its client entry (mllp.addresses, mllp.certificate_sha256)', undefined, optionalString),
  hl7LegacyAckSenders: key('HL7_LEGACY_ACK_SENDERS', 'Comma-separated ODS codes of senders acknowledged as before HL7 v2.5.1 section 2.9 was followed: enhanced mode only when MSH-16 is AL, ER or SU (default: none; every sender gets original mode only when MSH-15 and MSH-16 are both empty). Per sender also `"ack_mode": "legacy"` in its client entry\'s `mllp`', undefined, optionalString),
  mllpTlsKey: key('MLLP_TLS_KEY', 'PEM private key file: MLLP over TLS when set with MLLP_TLS_CERT', undefined, optionalString),
  mllpTlsCert: key('MLLP_TLS_CERT', 'PEM certificate file for MLLP over TLS', undefined, optionalString),
  mllpTlsCa: key('MLLP_TLS_CA', 'PEM CA file for MLLP over TLS: senders are asked for a client certificate verified against it; a verified certificate whose SHA-256 a client entry lists (mllp.certificate_sha256) speaks for its organisation', undefined, optionalString),
  eprEndpoints: key('ESO_EPR_ENDPOINTS', 'Where return messages go: comma-separated ODS=host:port (e.g. RQ1=127.0.0.1:2576)', '', z.string()),
  outboxEnabled: key('ESO_OUTBOX_ENABLED', 'Run the outbound HL7 v2 dispatcher in this process', 'true', z.enum(['true', 'false']).transform((v) => v === 'true')),
  outboxPollMs: key('ESO_OUTBOX_POLL_MS', 'How often an idle outbound dispatcher looks for due messages (ms)', '200', positiveInt),
  outboxConnectTimeoutMs: key('ESO_OUTBOX_CONNECT_TIMEOUT_MS', 'Outbound MLLP: time allowed to connect to an EPR (ms)', '5000', positiveInt),
  outboxAnswerTimeoutMs: key('ESO_OUTBOX_ANSWER_TIMEOUT_MS', 'Outbound MLLP: time allowed for the EPR\'s ACK (ms)', '30000', positiveInt),
  outboxLeaseMs: key('ESO_OUTBOX_LEASE_MS', 'How long a claimed outbound message is held by one instance (ms); must exceed connect + answer timeouts', '60000', positiveInt),
  outboxBackoffBaseMs: key('ESO_OUTBOX_BACKOFF_BASE_MS', 'First retry delay after a failed send (ms); doubles each attempt, with 20% jitter', '1000', positiveInt),
  outboxBackoffCapMs: key('ESO_OUTBOX_BACKOFF_CAP_MS', 'Longest retry delay (ms)', '300000', positiveInt),
  peersFile: key('ESO_PEERS_FILE', 'JSON file of peer eso-bridge instances ({"peers":[{"organizations":["RX1"],"base":"https://eso.rx1.example/fhir","client_id":"...","key_file":"..."}]}): a case whose provider (or requester) one serves is carried there as FHIR messages (docs/FEDERATION.md); re-read when it changes; unset = none', undefined, optionalString),
  subscriptionOrigins: key('ESO_SUBSCRIPTION_ORIGINS', 'Where each organisation\'s Subscriptions may send rest-hook notifications: comma-separated ODS=origin|origin (e.g. RQ1=https://engine.rq1.nhs.uk|https://backup.rq1.nhs.uk; a port of * allows any port); an organisation not listed may not subscribe', '', z.string()),
  subscriptionMaxFailures: key('ESO_SUBSCRIPTION_MAX_FAILURES', 'Failed rest-hook deliveries in a row that put a Subscription in error (its events are kept until it is re-activated)', '10', positiveInt),
  appEhrsFile: key('ESO_APP_EHRS_FILE', 'JSON file of the EHRs that may launch the clinician app ({"ehrs":[{"iss","client_id","auth","client_secret","organization"}]}, docs/CLINICIAN-APP.md); default: ESO_DATA_DIR/app-ehrs.json (absent = no EHR may launch it); re-read when it changes', undefined, optionalString),
  appIdleSeconds: key('ESO_APP_IDLE_SECONDS', 'Clinician app: seconds without use after which a session ends', '900', positiveInt),
  familyLinkDays: key('ESO_FAMILY_LINK_DAYS', 'Days a family link works before it expires', '30', positiveInt),
} as const;

type Schema = typeof configSchema;
export type Config = { [K in keyof Schema]: Schema[K] extends ConfigKey<infer T> ? T : never };
