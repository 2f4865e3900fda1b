/**
 * create / read / search throughput on eso-bridge (SQLite, no token) beside a bare Express ceiling.
 * A Patient is the resource (no ESO rule applies to it, so the figures are the FHIR core's:
 * validation, versioning, index rows, the commit, and the AuditEvent every access writes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, load, ratio, startChild, stopChild } from './harness.ts';

const here = (f: string) => new URL(f, import.meta.url).pathname;

export async function benchCore(seconds: number): Promise<void> {
  console.log('\n== core: eso-bridge FHIR REST on SQLite (auth disabled) vs bare Express 5, autocannon 32 connections');
  const ceiling = await startChild(here('./ceiling.ts'));
  const cBase = `http://127.0.0.1:${ceiling.port}`;
  const ceilRead = await load({ url: `${cBase}/read`, duration: seconds });
  const body = JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'https://bench.example.nhs.uk/mrn', value: 'B1' }],
    name: [{ family: 'Benchmark', given: ['Noah'] }], gender: 'male', birthDate: '2019-06-24' });
  const ceilPost = await load({ url: `${cBase}/echo`, method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body, duration: seconds });
  await stopChild(ceiling.child);

  const dataDir = mkdtempSync(join(tmpdir(), 'eso-bench-'));
  const eso = await startChild(here('./eso-server.ts'), { ESO_DATA_DIR: dataDir, ESO_AUTH_DISABLED: 'true', HOST: '127.0.0.1' });
  const base = `http://127.0.0.1:${eso.port}/fhir`;
  const create = await load({ url: `${base}/Patient`, method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body, duration: seconds });
  const created = (await (await fetch(`${base}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body })).json()) as { id: string };
  const read = await load({ url: `${base}/Patient/${created.id}`, duration: seconds });
  const search = await load({ url: `${base}/Patient?family=bench&birthdate=ge2019-01-01&_count=20`, duration: seconds });
  await stopChild(eso.child);
  rmSync(dataDir, { recursive: true, force: true });

  console.log(`ceiling GET  ${fmt(ceilRead)}`);
  console.log(`ceiling POST ${fmt(ceilPost)}`);
  console.log(`create Patient ${fmt(create)}  ${ratio(create, ceilPost)} (aim ≥ 40%)`);
  console.log(`read Patient   ${fmt(read)}  ${ratio(read, ceilRead)} (aim ≥ 60%)`);
  console.log(`search Patient ${fmt(search)}  ${ratio(search, ceilRead)}`);
}
