/**
 * Issue 16: `npm run cli -- case resend <taskId>`. A request B refused (A's entry named the wrong client
 * there) stays failed at A; once the operator puts the peers file right, resending the case delivers
 * its current state and B makes its copy. A resend of a case B already has changes nothing there.
 */
import type { Bundle } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool } from '../../helpers/run-tool.ts';
import { requestInput } from '../eso/harness.ts';
import { eventually, startPair, taskByRequestId, type Pair } from './pair.ts';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';

describe('Trust to Trust: case resend', () => {
  let p: Pair;
  beforeAll(async () => { p = await startPair(); }, 60_000);
  afterAll(async () => { await p?.stop(); });

  it('when a refused request is put right, then case resend delivers the case, and a second resend changes nothing at B', async () => {
    await writeFile(join(p.a.dir, 'stray-rz9.json'), JSON.stringify(p.b.keys['rz9-epr']));
    await p.link({ a: [{ organizations: ['RZ2'], base: p.b.server.fhir, client_id: 'rz9-epr', key_file: 'stray-rz9.json' }] });
    const input = requestInput();
    const made = await p.requester.post('/eso/requests', input);
    expect(made.status).toBe(201);
    await eventually('refused', async () => ((await p.a.server.storage.listOutbound({ status: 'failed' })).some((m) => m.kind === 'fhir-message:eso-request' && m.payload.includes(made.body.task.id)) ? true : undefined));
    expect(await taskByRequestId(p.provider, input.requestId.value)).toBeUndefined();

    await p.link();
    const out = await runTool('cli.ts', ['case', 'resend', made.body.task.id], p.a.server.env);
    expect(out.stdout).toContain(`queued eso-request for Task/${made.body.task.id}`);
    expect(out.code).toBe(0);
    const bTask = await eventually('the case at B', () => taskByRequestId(p.provider, input.requestId.value));
    const docs = await p.provider.get<Bundle>(`/fhir/DocumentReference?related=${bTask.focus!.reference}`);
    expect(docs.body.entry?.length).toBe(input.records.length);

    expect((await runTool('cli.ts', ['case', 'resend', made.body.task.id], p.a.server.env)).code).toBe(0);
    await eventually('the second resend sent', async () => ((await p.a.server.storage.listOutbound({ status: 'sent' })).filter((m) => m.payload.includes(made.body.task.id)).length === 2 ? true : undefined));
    const bAfter = (await taskByRequestId(p.provider, input.requestId.value))!;
    expect(bAfter.meta?.versionId).toBe(bTask.meta?.versionId);
    expect(((await p.provider.get<Bundle>(`/fhir/DocumentReference?related=${bTask.focus!.reference}`)).body.entry ?? []).length).toBe(input.records.length);
  }, 90_000);

  it('when the Task is unknown or not carried to a peer, then case resend says so and exits non-zero', async () => {
    const unknown = await runTool('cli.ts', ['case', 'resend', 'no-such-task'], p.a.server.env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('Task/no-such-task is not known');
  }, 60_000);
});
