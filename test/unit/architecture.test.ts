/**
 * Imports point one way, by the layer order in docs/ARCHITECTURE.md: a module imports from its own
 * folder or from a layer below, never from above and never from a peer beside it. A new import
 * that breaks the order fails here, naming the file and the import.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/** Bottom to top. Folders of one rank are peers: neither imports the other. */
const LAYERS: Record<string, number> = {
  shared: 0,
  config: 1, storage: 1,
  fhir: 2,
  // The audit trail and the domain are peers: neither knows the other.
  audit: 3, domain: 3,
  auth: 4, rest: 4,
  // Subscriptions (Backport IG): write hook, event sink, rest-hook sender, $status/$events; wired by the root.
  subscriptions: 4,
  hl7: 5,
  // Trust-to-Trust messages (FHIR messaging, BaRS-shaped): outbox sink and sender, $process-message receiver; beside hl7.
  federation: 5,
  // http adapts everything below it to Express, including the HL7 receiver (POST /hl7/v2).
  http: 6,
  // The clinician app (SMART App Launch): its own Express routes and pages over the domain, beside http.
  clinician: 6,
  // The composition root: src/*.ts (main, server, app, cli, demo).
  '.': 7,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** The layer folder of a file under src/ ('.' for the composition root). */
const layerOf = (file: string): string => {
  const parts = relative(SRC, file).split(sep);
  return parts.length === 1 ? '.' : parts[0];
};

const IMPORT_RE = /^\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/gm;

/** Every relative import in src/ that breaks the layer order, as "file -> import". */
function violations(): string[] {
  const out: string[] = [];
  for (const file of files(SRC)) {
    const from = layerOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT_RE)) {
      const target = resolve(dirname(file), m[1]);
      if (!target.startsWith(SRC)) continue;
      const to = layerOf(target);
      if (to === from) continue;
      if (!(LAYERS[from] > LAYERS[to])) out.push(`${relative(SRC, file)} -> ${m[1]} (${from} may not import ${to})`);
    }
  }
  return out;
}

describe('the layers of src/', () => {
  it('when the tree is read, then every folder has a place in the layer order', () => {
    const folders = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory());
    expect(folders.filter((f) => LAYERS[f] === undefined)).toEqual([]);
  });

  it('when a module imports another, then it imports from its own folder or a layer below', () => {
    expect(violations()).toEqual([]);
  });
});
