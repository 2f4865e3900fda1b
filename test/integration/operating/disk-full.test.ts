/**
 * Running out of disk, on a real small tmpfs data directory: writes are refused with a 503
 * OperationOutcome (AE over HL7), nothing partial is stored, and writes resume when space returns.
 * Needs permission to mount (root); where mounting is not allowed the suite is skipped, saying so.
 * PostgreSQL's disk_full (53100) is translated by the same code (storage/db-errors.ts) but cannot be
 * simulated safely here (it would fill the machine's shared PostgreSQL volume): SQLite only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSample, msa, sendWithMedplum, startHl7Server, type Hl7Server } from '../hl7/harness.ts';

const mountPoint = mkdtempSync(join(tmpdir(), 'eso-full-'));
const mounted = (() => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    return true;
  } catch (e) {
    process.stdout.write(`disk-full suite skipped: cannot mount a tmpfs at ${mountPoint} (${String((e as { stderr?: Buffer }).stderr ?? e).trim()}); it needs root\n`);
    return false;
  }
})();

/** Fills the file system with filler files until a write fails (ENOSPC); returns them to remove later. */
function fill(dir: string): string[] {
  const files: string[] = [];
  for (let size = 1 << 20; size >= 512; size >>= 1) {
    for (;;) {
      const f = join(dir, `filler-${files.length}`);
      try {
        writeFileSync(f, Buffer.alloc(size));
        files.push(f);
      } catch {
        rmSync(f, { force: true });
        break;
      }
    }
  }
  return files;
}

describe.runIf(mounted)('a full disk on sqlite (tmpfs data directory)', () => {
  let h: Hl7Server;
  let fillers: string[] = [];
  let patientId: string;
  const headers = async () => ({ authorization: `Bearer ${await h.as.RA7.token()}`, 'content-type': 'application/fhir+json' });
  const patient = (family: string) => JSON.stringify({ resourceType: 'Patient', name: [{ family }] });

  beforeAll(async () => {
    h = await startHl7Server('sqlite', { ESO_DATA_DIR: join(mountPoint, 'data') });
    const res = await fetch(`${h.server.url}/fhir/Patient`, { method: 'POST', headers: await headers(), body: patient('BeforeFull') });
    expect(res.status).toBe(201);
    patientId = ((await res.json()) as { id: string }).id;
    await h.as.RA7.token();
    fillers = fill(mountPoint);
    expect(statfsSync(mountPoint).bavail).toBeLessThan(2);
  });
  afterAll(async () => {
    for (const f of fillers) rmSync(f, { force: true });
    await h?.stop();
    if (mounted) execFileSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('when the disk is full, then a FHIR write is 503 with an OperationOutcome saying nothing was stored', async () => {
    const res = await fetch(`${h.server.url}/fhir/Patient`, { method: 'POST', headers: await headers(), body: patient('WhileFull') });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('60');
    const body = (await res.json()) as { resourceType: string; issue: { code: string; diagnostics: string }[] };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0].code).toBe('transient');
    expect(body.issue[0].diagnostics).toContain('nothing was stored');
    expect(JSON.stringify(body)).not.toMatch(/SQLITE|stack|at .*\.ts/);
  });

  it('when the disk is full, then an HL7 v2 referral gets AE, not AA', async () => {
    const { text } = freshSample('v251');
    expect(msa(await sendWithMedplum(h.mllpPort, text)).code).toBe('AE');
  });

  it('when the disk is full, then reads keep working', async () => {
    const res = await fetch(`${h.server.url}/fhir/Patient/${patientId}`, { headers: await headers() });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { name: { family: string }[] }).name[0].family).toBe('BeforeFull');
  });

  it('when space returns, then nothing partial was stored and writes resume', async () => {
    for (const f of fillers.splice(0)) unlinkSync(f);
    expect(await h.server.storage.integrityCheck()).toBe('ok');
    const search = await fetch(`${h.server.url}/fhir/Patient?family=WhileFull`, { headers: await headers() });
    expect(((await search.json()) as { entry?: unknown[] }).entry ?? []).toEqual([]);
    const res = await fetch(`${h.server.url}/fhir/Patient`, { method: 'POST', headers: await headers(), body: patient('AfterFull') });
    expect(res.status).toBe(201);
    const { text } = freshSample('v251');
    expect(msa(await sendWithMedplum(h.mllpPort, text)).code).toBe('AA');
  });
});
