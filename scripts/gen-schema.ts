/**
 * Generates docs/eso-request.schema.json (JSON Schema 2020-12) from the zod schema of the
 * plain-JSON ESO request (src/domain/eso-request-input.ts), so the published schema never drifts.
 *   npx tsx scripts/gen-schema.ts          write it
 *   npx tsx scripts/gen-schema.ts --check  exit 1 if the file is out of date (CI)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { EsoRequestInput } from '../src/domain/eso-request-input.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('../docs/eso-request.schema.json', import.meta.url));

/** The schema as published: what a sender may send (defaults are optional on input). */
export function esoRequestSchema(): string {
  const schema = z.toJSONSchema(EsoRequestInput, { io: 'input', unrepresentable: 'any' });
  const published = {
    $schema: schema.$schema,
    $id: 'https://fhir.eso-bridge.nhs.uk/schema/eso-request.schema.json',
    title: 'ESO request',
    description: 'The plain-JSON request for an external second opinion (POST /eso/requests). Generated from src/domain/eso-request-input.ts by scripts/gen-schema.ts: do not edit.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
  return `${JSON.stringify(published, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = esoRequestSchema();
  if (process.argv.includes('--check')) {
    let current = '';
    try { current = readFileSync(SCHEMA_FILE, 'utf8'); } catch { /* missing = stale */ }
    if (current !== text) {
      process.stderr.write('docs/eso-request.schema.json is out of date: run npx tsx scripts/gen-schema.ts\n');
      process.exit(1);
    }
  } else {
    writeFileSync(SCHEMA_FILE, text);
    process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
  }
}
