/**
 * The hazard log (docs/CLINICAL-SAFETY.md) names, for each control, the test that proves it, by file
 * and test name. This fails when a named file or test no longer exists (renamed, deleted), so the log
 * never cites evidence that is gone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const doc = readFileSync(resolve(ROOT, 'docs/CLINICAL-SAFETY.md'), 'utf8');
const EVIDENCE = /`(test\/[^`]+\.test\.ts)` › "([^"]+)"/g;
const cited = [...doc.matchAll(EVIDENCE)].map((m) => ({ file: m[1], name: m[2] }));

/** A test file's text with its string escapes undone, so `'...Trust\'s'` reads as written in the log. */
const source = (file: string) => readFileSync(resolve(ROOT, file), 'utf8').replaceAll("\\'", "'");

describe('the clinical safety hazard log', () => {
  it('when the log is read, then every hazard the issue names has evidence', () => {
    const hazards = [...doc.matchAll(/^### (H\d+)\. (.+)$/gm)].map((m) => m[1]);
    expect(hazards).toEqual(['H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'H7', 'H8']);
    for (const section of doc.split(/^### /m).slice(1)) {
      expect(section, section.split('\n')[0]).toMatch(/\*\*Cause:\*\*[\s\S]*\*\*Effect:\*\*[\s\S]*\*\*Controls:\*\*[\s\S]*\*\*Evidence:\*\*/);
      expect([...section.matchAll(EVIDENCE)].length, section.split('\n')[0]).toBeGreaterThan(0);
    }
  });

  it.each(cited.map((c) => [c.file, c.name]))('when %s is cited, then it holds the test "%s"', (file, name) => {
    expect(existsSync(resolve(ROOT, file)), file).toBe(true);
    expect(source(file)).toContain(name);
  });

  it('when a citation names a test that does not exist, then this check would fail', () => {
    expect(source('test/integration/eso/rules.test.ts')).not.toContain('when no such test exists, then this is not found');
  });
});
