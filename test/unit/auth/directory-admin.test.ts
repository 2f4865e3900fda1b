/** The directory file and `npm run cli -- org add/move/list` (the functions behind them). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addOrganization, listOrganizations, moveOrganization } from '../../../src/auth/directory-admin.ts';
import { parentsFirst, parseDirectoryFile } from '../../../src/auth/directory-file.ts';
import { DirectoryRegistry } from '../../../src/auth/directory-registry.ts';
import type { Logger } from '../../../src/shared/logger.ts';

describe('the directory file', () => {
  it('when it is the documented example, then it parses (partOf optional)', () => {
    expect(parseDirectoryFile({ organizations: [{ ods: 'RZ2NP', name: 'Paediatric Neurology', partOf: 'RZ2' }, { ods: 'RZ2', name: 'Northern Children\'s Trust' }] }))
      .toEqual([{ ods: 'RZ2NP', name: 'Paediatric Neurology', partOf: 'RZ2' }, { ods: 'RZ2', name: 'Northern Children\'s Trust' }]);
  });

  it('when an entry is malformed, then the whole file is refused, naming the entry and field', () => {
    expect(() => parseDirectoryFile({ organizations: [{ ods: 'RZ2', name: 'ok' }, { ods: 'rz 2', name: 'bad' }] })).toThrow(/organizations\.1\.ods/);
    expect(() => parseDirectoryFile({ organizations: [{ ods: 'RZ2' }] })).toThrow(/organizations\.0\.name/);
    expect(() => parseDirectoryFile({ orgs: [] })).toThrow(/organizations/);
  });

  it('when a code is listed twice, then the file is refused', () => {
    expect(() => parseDirectoryFile({ organizations: [{ ods: 'RZ2', name: 'a' }, { ods: 'RZ2', name: 'b' }] })).toThrow(/RZ2 is listed more than once/);
  });

  it('when partOf goes round in a cycle, then the file is refused naming the cycle', () => {
    expect(() => parseDirectoryFile({ organizations: [{ ods: 'AAA', name: 'a', partOf: 'BBB' }, { ods: 'BBB', name: 'b', partOf: 'CCC' }, { ods: 'CCC', name: 'c', partOf: 'BBB' }] }))
      .toThrow(/partOf cycle (BBB -> CCC -> BBB|CCC -> BBB -> CCC)/);
    expect(() => parseDirectoryFile({ organizations: [{ ods: 'AAA', name: 'a', partOf: 'AAA' }] })).toThrow(/part of itself/);
  });

  it('when entries are listed children first, then they are applied parents first', () => {
    const order = parentsFirst(parseDirectoryFile({ organizations: [{ ods: 'TEAM1', name: 't', partOf: 'SITE1' }, { ods: 'SITE1', name: 's', partOf: 'TRUST' }, { ods: 'TRUST', name: 'T' }] }));
    expect(order.map((e) => e.ods)).toEqual(['TRUST', 'SITE1', 'TEAM1']);
  });
});

describe('npm run cli -- org ...', () => {
  let dir: string;
  let file: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'eso-dir-')); file = join(dir, 'directory.json'); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('when the operator adds a Trust and a team under it, then the file says so and org list prints them', async () => {
    await addOrganization(file, { ods: 'RZ2', name: 'Northern Children\'s Trust' });
    await addOrganization(file, { ods: 'RZ2NP', name: 'Paediatric Neurology', partOf: 'RZ2' });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ organizations: [{ ods: 'RZ2', name: 'Northern Children\'s Trust' }, { ods: 'RZ2NP', name: 'Paediatric Neurology', partOf: 'RZ2' }] });
    expect(await listOrganizations(file)).toHaveLength(2);
  });

  it('when a code is added twice or is not an ODS code, then it is refused and the file is unchanged', async () => {
    await addOrganization(file, { ods: 'RZ2', name: 'Trust' });
    const before = readFileSync(file, 'utf8');
    await expect(addOrganization(file, { ods: 'RZ2', name: 'Again' })).rejects.toThrow(/already/);
    await expect(addOrganization(file, { ods: 'rz-3', name: 'Bad' })).rejects.toThrow(/ODS code/);
    await expect(addOrganization(file, { ods: 'RZ3', name: 'Bad parent', partOf: 'x' })).rejects.toThrow(/--part-of/);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('when the operator moves a team, or makes it top level, then partOf follows; a move into a cycle is refused', async () => {
    await addOrganization(file, { ods: 'RZ1', name: 'Southern' });
    await addOrganization(file, { ods: 'RZ2', name: 'Northern' });
    await addOrganization(file, { ods: 'RZ2NP', name: 'Neurology', partOf: 'RZ2' });
    expect(await moveOrganization(file, 'RZ2NP', 'RZ1')).toEqual({ ods: 'RZ2NP', name: 'Neurology', partOf: 'RZ1' });
    expect(await moveOrganization(file, 'RZ2NP', undefined)).toEqual({ ods: 'RZ2NP', name: 'Neurology' });
    await moveOrganization(file, 'RZ2', 'RZ1');
    await expect(moveOrganization(file, 'RZ1', 'RZ2')).rejects.toThrow(/cycle/);
    await expect(moveOrganization(file, 'RZ9', 'RZ1')).rejects.toThrow(/not in/);
    expect((await listOrganizations(file)).find((e) => e.ods === 'RZ1')?.partOf).toBeUndefined();
  });

  it('when the file holds members the tool does not know, then an edit keeps them', async () => {
    writeFileSync(file, JSON.stringify({ organizations: [{ ods: 'RZ2', name: 'Trust', note: 'kept' }], source: 'ods-sync' }));
    await addOrganization(file, { ods: 'RZ2NP', name: 'Team', partOf: 'RZ2' });
    const json = JSON.parse(readFileSync(file, 'utf8')) as { source: string; organizations: { note?: string }[] };
    expect(json.source).toBe('ods-sync');
    expect(json.organizations[0].note).toBe('kept');
  });

  it('when the file does not parse, then the tool refuses to edit it', async () => {
    writeFileSync(file, '{"organizations": [{"ods": "RZ2"}]}');
    await expect(addOrganization(file, { ods: 'RZ3', name: 'x' })).rejects.toThrow(/Invalid directory file/);
  });
});

describe('the directory file while the server runs', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'eso-dir-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const log = { info: () => undefined, warn: () => undefined } as unknown as Logger;

  it('when the file changes to one that does not parse, then the last good directory is kept and nothing is applied; a good change is applied', async () => {
    const file = join(dir, 'directory.json');
    writeFileSync(file, JSON.stringify({ organizations: [{ ods: 'RZ2', name: 'Northern' }] }));
    const applied: string[][] = [];
    const registry = await DirectoryRegistry.open(file, log, { recheckMs: 3_600_000, onLoad: async (e) => { applied.push(e.map((x) => x.ods)); } });
    await registry.start();
    writeFileSync(file, JSON.stringify({ organizations: [{ ods: 'RZ2', name: 'a', partOf: 'RZ2NP' }, { ods: 'RZ2NP', name: 'b', partOf: 'RZ2' }] }));
    await registry.refresh();
    expect(registry.entries()).toEqual([{ ods: 'RZ2', name: 'Northern' }]);
    writeFileSync(file, JSON.stringify({ organizations: [{ ods: 'RZ2', name: 'Northern' }, { ods: 'RZ2NP', name: 'Neurology', partOf: 'RZ2' }] }));
    await registry.refresh();
    registry.close();
    expect(applied).toEqual([['RZ2'], ['RZ2', 'RZ2NP']]);
  });

  it('when there is no file, then the directory is empty', async () => {
    const registry = await DirectoryRegistry.open(join(dir, 'absent.json'), log);
    expect(registry.entries()).toEqual([]);
  });
});
