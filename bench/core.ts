/**
 * create / read / search Patient throughput on eso-bridge (auth disabled, on each backend) beside a
 * bare Express ceiling, and the peer: @medplum/fhir-router on its MemoryRepository behind Express
 * (bench/medplum-peer.ts: no database, no audit), all measured in the same run with the same
 * requests. A Patient is the resource (no ESO rule applies to it, so eso-bridge's figures are the
 * FHIR core's: validation, versioning, index rows, the commit, and the AuditEvent every access writes).
 * Each server is started fresh, loaded with creates for `seconds`, then read, then searched (so the
 * search runs over what the create phase stored, on eso-bridge and on the peer alike).
 */
import { type Backend, scratch } from './backend.ts';
import { cpuText, type Figure, fmt, load, startChild, stopChild, type Watched } from './harness.ts';
import { record } from './report.ts';

const here = (f: string) => new URL(f, import.meta.url).pathname;
const BODY = JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'https://bench.example.nhs.uk/mrn', value: 'B1' }],
  name: [{ family: 'Benchmark', given: ['Noah'] }], gender: 'male', birthDate: '2019-06-24' });
const JSON_HEADERS = { 'content-type': 'application/fhir+json' };
const SEARCH = 'Patient?family=bench&birthdate=ge2019-01-01&_count=20';

interface Crs { create: Figure; read: Figure; search: Figure }

/** create, then read one of them, then search, against a FHIR base URL (with the CPU the watched server used). */
async function crs(base: string, seconds: number, label: string, watched: Watched): Promise<Crs> {
  const create = await load({ url: `${base}/Patient`, method: 'POST', headers: JSON_HEADERS, body: BODY, duration: seconds }, watched);
  const res = await fetch(`${base}/Patient`, { method: 'POST', headers: JSON_HEADERS, body: BODY });
  if (res.status !== 201) throw new Error(`${label}: create answered ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  const read = await load({ url: `${base}/Patient/${id}`, duration: seconds }, watched);
  const search = await load({ url: `${base}/${SEARCH}`, duration: seconds }, watched);
  for (const [k, f] of Object.entries({ create, read, search })) console.log(`  ${label.padEnd(22)} ${k.padEnd(6)} ${fmt(f)}`);
  return { create, read, search };
}

const AIMS = { create: 0.45, read: 0.65, search: 0.35 } as const;

/**
 * The CPU the aim leaves a request: at the aim's rate, one core (a Node server's one main thread)
 * gives each request at most 1e6 / rate µs. Beside the server's measured CPU per request, it says
 * how far the code is from the aim independently of how busy the shared host was.
 */
function budgetNote(eso: Figure, ceiling: Figure, aim: number): string | undefined {
  if (eso.cpuUs === undefined) return undefined;
  const rate = aim * ceiling.rps;
  return `${cpuText(eso)}; ceiling ${cpuText(ceiling)}; the aim's ${rate.toFixed(0)} req/s leaves one core ${(1e6 / rate).toFixed(0)} µs/req`;
}
const ROW = { create: 'create Patient', read: 'read Patient', search: 'search Patient (family + birthdate)' } as const;

export async function benchCore(seconds: number, backends: Backend[]): Promise<void> {
  console.log(`\n== core: eso-bridge FHIR REST (auth disabled) on ${backends.join(', ')} vs bare Express 5 (ceiling) and @medplum/fhir-router 4.5.2 on MemoryRepository (peer), autocannon 32 connections, ${seconds} s each`);
  const ceiling = await startChild(here('./ceiling.ts'));
  const cBase = `http://127.0.0.1:${ceiling.port}`;
  const ceilRead = await load({ url: `${cBase}/read`, duration: seconds }, { pid: ceiling.child.pid });
  const ceilPost = await load({ url: `${cBase}/echo`, method: 'POST', headers: JSON_HEADERS, body: BODY, duration: seconds }, { pid: ceiling.child.pid });
  await stopChild(ceiling.child);
  console.log(`  ${'ceiling (Express)'.padEnd(22)} GET    ${fmt(ceilRead)}`);
  console.log(`  ${'ceiling (Express)'.padEnd(22)} POST   ${fmt(ceilPost)}`);
  const ceilOf = { create: ceilPost, read: ceilRead, search: ceilRead };

  let peer: Crs | undefined;
  let peerWhy = '';
  try {
    const mp = await startChild(here('./medplum-peer.ts'));
    try { peer = await crs(`http://127.0.0.1:${mp.port}/fhir`, seconds, 'Medplum router (memory)', { pid: mp.child.pid }); } finally { await stopChild(mp.child); }
  } catch (e) {
    peerWhy = (e as Error).message;
    console.log(`Medplum peer: not run (${peerWhy})`);
  }

  for (const backend of backends) {
    const s = await scratch(backend);
    try {
      const eso = await startChild(here('./eso-server.ts'), { ...s.env, ESO_AUTH_DISABLED: 'true', HOST: '127.0.0.1' });
      let r: Crs;
      try { r = await crs(`http://127.0.0.1:${eso.port}/fhir`, seconds, `eso-bridge (${backend})`, { pid: eso.child.pid, postgres: backend === 'postgres' }); } finally { await stopChild(eso.child); }
      for (const k of ['create', 'read', 'search'] as const) {
        const c = ceilOf[k];
        const bad = r[k].errors + r[k].non2xx;
        record({
          name: ROW[k], backend, value: r[k].rps, unit: 'req/s',
          ceiling: { value: c.rps, unit: 'req/s', what: `Express ${k === 'create' ? 'POST' : 'GET'}` },
          aim: { kind: 'ratio', value: AIMS[k] },
          peer: peer ? `Medplum ${(peer[k].rps / c.rps).toFixed(2)}${k === 'search' ? ` (linear scan over ~${Math.round(peer.create.rps * seconds)} Patients)` : ''}${peer[k].errors + peer[k].non2xx ? ` (${peer[k].errors + peer[k].non2xx} errors)` : ''}` : `Medplum not run (${peerWhy})`,
          note: [k === 'search' ? `over the ~${Math.round(r.create.rps * seconds)} Patients its create phase stored` : '', budgetNote(r[k], c, AIMS[k]),
            bad ? `${bad} errors/non-2xx` : ''].filter(Boolean).join('; ') || undefined,
        });
      }
    } finally {
      await s.cleanup();
    }
  }
}
