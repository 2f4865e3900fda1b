/**
 * GET /metrics as an operator's Prometheus sees it: requests by route template, MLLP messages by type
 * and ACK code, tokens issued and refused, commits, outbox depth and age, process metrics; never an id,
 * an NHS number or free text in a label; only on the metrics listener (or to the system).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { frame, msa, rawMllp } from '../hl7/harness.ts';

const NHS = '9000000009';
const scrape = async (port: number, path = '/metrics') => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
};
/** The value of one series, by its exact name and labels as printed. */
const valueOf = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe.each(backends())('metrics on %s', (backend) => {
  let server: TestServer;
  let patientId: string;
  beforeAll(async () => {
    server = await startTestServer(backend, { ESO_METRICS_PORT: '0', MLLP_ENABLED: 'true', MLLP_PORT: '0' });
    const res = await fetch(`${server.fhir}/Patient`, {
      method: 'POST', headers: { ...(await server.authHeaders()), 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: NHS }], name: [{ family: 'Metric', given: ['Secret'] }] }),
    });
    expect(res.status).toBe(201);
    patientId = ((await res.json()) as { id: string }).id;
    expect((await fetch(`${server.fhir}/Patient/${patientId}`, { headers: await server.authHeaders() })).status).toBe(200);
    await fetch(`${server.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=not.a.jwt' });
    // An MLLP sender no client entry admits: refused, and counted by type and ACK code.
    const peer = await rawMllp(server.mllpPort!);
    await peer.write(frame(`MSH|^~\\&|EPR|RA7|ESO_BRIDGE|ESO|20260101120000||REF^I12^REF_I12|C-${NHS}|P|2.5.1\rPID|1||${NHS}^^^NHS^NH||Secret^Name`));
    const [ack] = await peer.waitFor(1);
    await peer.close();
    expect(['AR', 'AE']).toContain(msa(ack).code);
    await server.storage.transaction(async (tx) => {
      await tx.enqueueOutbound('mllp:RA7', 'hl7v2:RRI^I12', `MSH|payload with ${NHS}`);
      await tx.enqueueOutbound('mllp:RA7', 'hl7v2:RRI^I12', `MSH|payload with ${NHS}`);
    });
  });
  afterAll(async () => { await server?.stop(); });

  it('when Prometheus scrapes the metrics listener, then it gets the text format with every family the operator needs', async () => {
    const m = await scrape(server.metricsPort!);
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(valueOf(m.text, 'eso_http_requests_total{route="/fhir/:type",method="POST",status="201"}')).toBeGreaterThanOrEqual(1);
    expect(valueOf(m.text, 'eso_http_requests_total{route="/fhir/:type/:id",method="GET",status="200"}')).toBeGreaterThanOrEqual(1);
    expect(m.text).toMatch(/^eso_http_request_duration_seconds_bucket\{le="0\.1",route="\/fhir\/:type",method="POST"\} \d+$/m);
    expect(valueOf(m.text, 'eso_tokens_issued_total')).toBeGreaterThanOrEqual(1);
    expect(m.text).toMatch(/^eso_tokens_refused_total\{error="invalid_(client|request)"\} 1$/m);
    expect(m.text).toMatch(/^eso_mllp_messages_total\{type="REF\^I12",ack="A[RE]"\} 1$/m);
    expect(valueOf(m.text, 'eso_db_commit_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(valueOf(m.text, 'eso_db_commit_group_size_count')).toBeGreaterThanOrEqual(1);
    expect(valueOf(m.text, 'eso_outbox_depth{destination="mllp:RA7",kind="hl7v2:RRI^I12"}')).toBe(2);
    expect(valueOf(m.text, 'eso_outbox_oldest_age_seconds{destination="mllp:RA7",kind="hl7v2:RRI^I12"}')).toBeGreaterThanOrEqual(0);
    expect(m.text).toContain('process_cpu_user_seconds_total');
    expect(m.text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('when the metrics are read, then no label holds an id, an NHS number, a name or a client id', async () => {
    const { text } = await scrape(server.metricsPort!);
    for (const secret of [NHS, patientId, 'Secret', 'Metric', 'test-epr', 'TST01', 'not.a.jwt']) expect(text, secret).not.toContain(secret);
  });

  it('when a path is hostile, then it is counted under its template, never as a series of its own', async () => {
    await fetch(`${server.fhir}/Patient/${NHS}x/_history/1`, { headers: await server.authHeaders() });
    await fetch(`${server.url}/no/such/${NHS}`);
    const { text } = await scrape(server.metricsPort!);
    expect(text).toContain('route="/fhir/:type/:id/_history/:vid"');
    expect(text).toContain('route="unmatched"');
    expect(text).not.toContain(NHS);
  });

  it('when a client with a token asks the main listener for /metrics, then it is 403 pointing at the metrics listener; without a token 401', async () => {
    const withToken = await fetch(`${server.url}/metrics`, { headers: await server.authHeaders() });
    expect(withToken.status).toBe(403);
    expect(((await withToken.json()) as { issue: { diagnostics: string }[] }).issue[0].diagnostics).toContain('ESO_METRICS_PORT');
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
  });

  it('when anything else is asked of the metrics listener, then it is 404', async () => {
    expect((await scrape(server.metricsPort!, '/fhir/Patient')).status).toBe(404);
  });
});

describe('metrics with authentication disabled', () => {
  let server: TestServer;
  // The system's view: with no tokens, the main listener serves /metrics (loopback only, like /admin).
  beforeAll(async () => { server = await startTestServer('sqlite', { ESO_AUTH_DISABLED: 'true' }); });
  afterAll(async () => { await server?.stop(); });

  it('when the main listener is asked without a token, then it answers the metrics', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('eso_http_requests_total');
  });
});
