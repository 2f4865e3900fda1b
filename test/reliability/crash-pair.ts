/**
 * npm run test:crash -- --pair [--kills N] [--backend sqlite|postgres|both] [--seed N]
 *
 * The two-instance mode (issue 16): A (requesting Trust RZ1) and B (provider RZ2, team RZ2NP) as child
 * processes, each with its own database, carrying cases to each other. Rounds of work (new requests and
 * consent withdrawals at A; the provider's moves up to a report or a refusal at B) while one of them is
 * killed with SIGKILL at a seeded moment and started again on the same data (at a new port, written into
 * the other's peers file). At the end, after both outboxes drained, both copies of every case must agree:
 * each case exactly once on each side, the same status and step, a report on both when completed, the
 * consent withdrawn on both or neither; and no Trust-to-Trust message refused.
 */
import { rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bundle, Consent, Resource, ServiceRequest, Task } from 'fhir/r4.js';
import { backendEnv, type Backend } from '../helpers/backends.ts';
import { changeTask, declaration, party, report, requestInput, step, type Party } from '../integration/eso/harness.ts';
import { prepareInstance } from '../integration/federation/pair.ts';
import { rng } from './crash-workload.ts';
import { startService, type ServiceProcess } from './service-process.ts';

const LEASE = { ESO_OUTBOX_LEASE_MS: '4000', ESO_OUTBOX_CONNECT_TIMEOUT_MS: '500', ESO_OUTBOX_ANSWER_TIMEOUT_MS: '3000', MLLP_ENABLED: 'false' };
const DRAIN_TIMEOUT_MS = 90_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const resources = <T extends Resource>(b: Bundle | undefined) => (b?.entry ?? []).map((e) => e.resource as T);

/** The provider's next move for a case in `status` (the last: a report or, for some, a refusal). */
function nextMove(status: Task['status'], decline: boolean): ((t: Task, sr: ServiceRequest, reportId?: string) => void) | undefined {
  if (status === 'requested') return (t) => { t.status = 'received'; t.businessStatus = step('received'); };
  if (status === 'received' && decline) return (t) => { t.status = 'rejected'; t.businessStatus = step('declined'); t.statusReason = { text: 'Outside our specialty' }; };
  if (status === 'received') return (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; };
  if (status === 'accepted') return (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); };
  if (status === 'in-progress') return (t, _sr, reportId) => {
    t.status = 'completed'; t.businessStatus = step('report-issued');
    t.output = [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${reportId}` } }];
  };
  return undefined;
}

export async function runPair(backend: Backend, kills: number, seed: number, log: (line: string) => void): Promise<{ ok: boolean; summary: string }> {
  const random = rng(seed);
  const aDir = await prepareInstance([{ clientId: 'rz1-epr', organization: 'RZ1' }, { clientId: 'eso-b', organization: 'RZ2' }]);
  const bDir = await prepareInstance([{ clientId: 'rz2np-epr', organization: 'RZ2NP' }, { clientId: 'eso-a', organization: 'RZ1' }]);
  const [aDb, bDb] = await Promise.all([backendEnv(backend), backendEnv(backend)]);
  await writeFile(join(aDir.dir, 'key-at-b.json'), JSON.stringify(bDir.keys['eso-a']));
  await writeFile(join(bDir.dir, 'key-at-a.json'), JSON.stringify(aDir.keys['eso-b']));
  const start = (which: 'a' | 'b') => which === 'a' ? startService({ ...aDir.env, ...aDb.env, ...LEASE }) : startService({ ...bDir.env, ...bDb.env, ...LEASE });
  const procs: Record<'a' | 'b', ServiceProcess> = { a: await start('a'), b: await start('b') };
  const link = async () => {
    await writeFile(aDir.peersFile, JSON.stringify({ peers: [{ organizations: ['RZ2'], base: `${procs.b.url}/fhir`, client_id: 'eso-a', key_file: 'key-at-b.json' }] }));
    await writeFile(bDir.peersFile, JSON.stringify({ peers: [{ organizations: ['RZ1'], base: `${procs.a.url}/fhir`, client_id: 'eso-b', key_file: 'key-at-a.json' }] }));
  };
  const requester = (): Party => party(procs.a, 'RZ1', 'rz1-epr', aDir.keys['rz1-epr']);
  const provider = (): Party => party(procs.b, 'RZ2NP', 'rz2np-epr', bDir.keys['rz2np-epr']);
  const problems: string[] = [];
  const requestIds: string[] = [];
  let acked = 0;
  try {
    await link();
    for (let round = 0; round < kills; round++) {
      const victim: 'a' | 'b' = random() < 0.5 ? 'a' : 'b';
      const killAt = Date.now() + Math.floor(random() * 1500);
      const work = (async () => {
        while (Date.now() < killAt + 300) {
          const input = requestInput();
          requestIds.push(input.requestId.value);
          if ((await requester().post('/eso/requests', input).catch(() => undefined))?.status === 201) acked++;
          const tasks = resources<Task>((await provider().get<Bundle>('/fhir/Task?_count=50').catch(() => undefined))?.body);
          for (const t of tasks.filter(() => random() < 0.5)) {
            const move = nextMove(t.status, random() < 0.2);
            if (!move) continue;
            const sr = (await provider().get<ServiceRequest>(`/fhir/${t.focus?.reference}`).catch(() => undefined))?.body;
            let reportId: string | undefined;
            if (t.status === 'in-progress' && sr) reportId = (await provider().post<Resource>('/fhir/DiagnosticReport', report(sr), { 'content-type': 'application/fhir+json' }).catch(() => undefined))?.body?.id;
            if (t.status === 'in-progress' && !reportId) continue;
            if ((await changeTask(provider(), t.id!, (x) => move(x, sr!, reportId)).catch(() => undefined))?.status === 200) acked++;
          }
        }
      })();
      await sleep(Math.max(0, killAt - Date.now()));
      await procs[victim].kill();
      await work;
      procs[victim] = await start(victim);
      await link();
      log(`crash-pair[${backend}]: round ${round + 1}: killed ${victim === 'a' ? 'A' : 'B'}, ${requestIds.length} requests so far`);
    }
    // A few withdrawals at A, while both run: they travel too.
    for (const id of requestIds.filter(() => random() < 0.2)) {
      const task = resources<Task>((await requester().get<Bundle>(`/fhir/Task?identifier=${encodeURIComponent(id)}`)).body)[0];
      if (!task) continue;
      const consent = resources<Consent>((await requester().get<Bundle>(`/fhir/Consent?patient=${task.for?.reference}`)).body).find((c) => c.status === 'active');
      if (consent && (await requester().put(`/fhir/Consent/${consent.id}`, { ...consent, status: 'inactive' }, { 'content-type': 'application/fhir+json' })).status === 200) acked++;
    }
    const outbox = async (p: Party) => (await p.get<{ messages: { status: string; kind: string; lastError: string | null }[] }>('/admin/outbox?limit=1000')).body.messages ?? [];
    const until = Date.now() + DRAIN_TIMEOUT_MS;
    for (;;) {
      const pending = [...(await outbox(requester())), ...(await outbox(provider()))].filter((m) => m.kind.startsWith('fhir-message:') && m.status === 'pending');
      if (!pending.length) break;
      if (Date.now() > until) { problems.push(`${pending.length} Trust-to-Trust messages still pending after ${DRAIN_TIMEOUT_MS} ms`); break; }
      await sleep(500);
    }
    for (const m of [...(await outbox(requester())), ...(await outbox(provider()))].filter((x) => x.kind.startsWith('fhir-message:') && x.status === 'failed')) {
      problems.push(`${m.kind} refused: ${m.lastError}`);
    }
    let compared = 0;
    for (const id of requestIds) {
      const atA = resources<Task>((await requester().get<Bundle>(`/fhir/Task?identifier=${encodeURIComponent(id)}`)).body);
      const atB = resources<Task>((await provider().get<Bundle>(`/fhir/Task?identifier=${encodeURIComponent(id)}`)).body);
      if (atA.length === 0 && atB.length === 0) continue; // never acknowledged, never committed
      if (atA.length !== 1 || atB.length !== 1) { problems.push(`${id}: ${atA.length} case(s) at A, ${atB.length} at B`); continue; }
      compared++;
      const [a, b] = [atA[0], atB[0]];
      if (a.status !== b.status) problems.push(`${id}: A says ${a.status}, B says ${b.status}`);
      else if (a.businessStatus?.coding?.[0]?.code !== b.businessStatus?.coding?.[0]?.code) problems.push(`${id}: A's step ${a.businessStatus?.coding?.[0]?.code}, B's ${b.businessStatus?.coding?.[0]?.code}`);
      if (a.status === 'completed' && !(a.output?.length && b.output?.length)) problems.push(`${id}: completed without the report on one side`);
      const consentOf = async (p: Party, t: Task) => resources<Consent>((await p.get<Bundle>(`/fhir/Consent?patient=${t.for?.reference}`)).body).some((c) => c.status === 'active');
      if ((await consentOf(requester(), a)) !== (await consentOf(provider(), b))) problems.push(`${id}: the consent is active on one side only`);
    }
    const summary = `${backend} pair: ${problems.length ? `${problems.length} problem(s)` : 'ok'} (${kills} kills, ${acked} acknowledged writes, ${compared} cases compared on both sides)`;
    for (const p of problems.slice(0, 20)) log(`crash-pair[${backend}]:   ${p}`);
    log(`crash-pair[${backend}]: ${problems.length ? 'FAIL' : 'PASS'} ${summary}`);
    return { ok: problems.length === 0, summary };
  } finally {
    await Promise.allSettled([procs.a.stop(), procs.b.stop()]);
    await Promise.allSettled([aDb.cleanup(), bDb.cleanup()]);
    for (const d of [aDir, bDir]) rmSync(d.dir, { recursive: true, force: true });
  }
}
