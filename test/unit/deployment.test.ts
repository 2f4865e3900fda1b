/**
 * docs/DEPLOYMENT.md stays true: its systemd unit passes `systemd-analyze verify` with no warning
 * (where systemd-analyze exists), and every key of its example environment file is a real setting.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.ts';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/DEPLOYMENT.md'), 'utf8');
const block = (marker: string, lang: string): string => {
  const m = new RegExp(`<!-- ${marker}[^>]*-->\\n\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(doc);
  if (!m) throw new Error(`no ${marker} block in docs/DEPLOYMENT.md`);
  return m[1];
};
const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const haveAnalyze = !analyze.error && analyze.status === 0;
if (!haveAnalyze) process.stdout.write('deployment: systemd-analyze is not installed here; the unit is not verified\n');

describe('docs/DEPLOYMENT.md', () => {
  it.runIf(haveAnalyze)('when its systemd unit is verified, then systemd-analyze finds nothing wrong', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eso-unit-'));
    try {
      const unit = join(dir, 'eso-bridge.service');
      writeFileSync(unit, block('systemd-unit', 'ini'));
      const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
      // ExecStart's /opt/eso-bridge is not installed here: only the interpreter must exist.
      expect(r.stderr.trim()).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(haveAnalyze)('when a unit has a wrong value, then the same check reports it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eso-unit-'));
    try {
      const unit = join(dir, 'eso-bridge.service');
      writeFileSync(unit, block('systemd-unit', 'ini').replace('Restart=on-failure', 'Restart=sometimes'));
      expect(spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' }).stderr).toContain('sometimes');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when its environment file is read, then every key is a setting eso-bridge knows', () => {
    const known = new Set(Object.values(configSchema).map((k) => k.env));
    const keys = block('env-file', 'sh').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]);
    expect(keys.length).toBeGreaterThan(5);
    expect(keys.filter((k) => !known.has(k))).toEqual([]);
  });
});
