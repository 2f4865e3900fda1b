/**
 * The peers file (ESO_PEERS_FILE) is asked on every message and watched write: PeerRegistry looks at
 * it no more than once a second, reads it again only when it changed, and keeps the previous peers
 * when a new version does not parse. A real file on disk; the registry's clock is frozen and moved by hand.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerRegistry } from '../../../src/federation/peers.ts';
import { createLogger } from '../../../src/shared/logger.ts';

const entry = (base: string) => ({ organizations: ['RZ2'], base, client_id: 'eso-rz1', key_file: 'key.json' });

describe('PeerRegistry', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'eso-peers-')); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  function registry(file: string) {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb(); } });
    const clock = { now: 1_000_000 };
    return { peers: new PeerRegistry(file, createLogger('info', stream), { now: () => clock.now }), clock, lines };
  }
  const bases = async (r: PeerRegistry) => (await r.list()).map((p) => p.base);

  it('when the file changes within a second of the last look, then the change is seen only once that second has passed', async () => {
    const file = join(dir, 'throttled.json');
    await writeFile(file, JSON.stringify({ peers: [entry('https://eso.rz2.example/fhir')] }));
    const { peers, clock, lines } = registry(file);
    expect(await bases(peers)).toEqual(['https://eso.rz2.example/fhir']);
    await writeFile(file, JSON.stringify({ peers: [entry('https://eso-new.rz2.example/fhir')] }));
    clock.now += 999;
    // Many asks inside the second: none of them looks at the file.
    expect(await Promise.all([bases(peers), bases(peers), bases(peers)])).toEqual(Array(3).fill(['https://eso.rz2.example/fhir']));
    clock.now += 1;
    expect(await bases(peers)).toEqual(['https://eso-new.rz2.example/fhir']);
    expect(lines.filter((l) => l.msg === 'peers file loaded')).toHaveLength(2);
  });

  it('when the file no longer parses, then the previous peers stay and the error is logged; a good file later is read', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, JSON.stringify({ peers: [entry('https://eso.rz2.example/fhir')] }));
    const { peers, clock, lines } = registry(file);
    expect(await bases(peers)).toEqual(['https://eso.rz2.example/fhir']);
    await writeFile(file, '{"peers": [{"organizations": ["RZ2"], "base": "http://not-loopback.example/fhir"');
    clock.now += 1000;
    expect(await bases(peers)).toEqual(['https://eso.rz2.example/fhir']);
    expect(lines.filter((l) => l.msg === 'peers file not reloaded: keeping the previous peers')).toHaveLength(1);
    await writeFile(file, JSON.stringify({ peers: [entry('https://eso-fixed.rz2.example/fhir')] }));
    clock.now += 1000;
    expect(await bases(peers)).toEqual(['https://eso-fixed.rz2.example/fhir']);
  });
});
