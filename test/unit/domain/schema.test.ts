/** docs/eso-request.schema.json is generated from the zod schema: it must be current, and the examples must parse. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EsoRequestInput } from '../../../src/domain/eso-request-input.ts';
import { esoRequestSchema, SCHEMA_FILE } from '../../../scripts/gen-schema.ts';

const dir = new URL('../../fixtures/eso-requests/', import.meta.url);

describe('ESO request schema', () => {
  it('when the zod schema changes, then docs/eso-request.schema.json is regenerated (npx tsx scripts/gen-schema.ts)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(esoRequestSchema());
  });

  it('when the example requests are parsed, then the valid ones pass and the invalid one fails', () => {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json') && n !== 'organisations.json')) {
      const ok = EsoRequestInput.safeParse(JSON.parse(readFileSync(new URL(f, dir), 'utf8'))).success;
      expect(ok, f).toBe(!f.startsWith('invalid'));
    }
  });
});
