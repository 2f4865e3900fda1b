/** ESO_APP_EHRS_FILE: its exact format, and a change seen by a running server. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeJsonFileAtomic } from '../../../src/auth/json-file.ts';
import { EhrRegistry, parseEhrsFile } from '../../../src/clinician/ehr-registry.ts';
import { createLogger } from '../../../src/shared/logger.ts';

describe('the EHRs file', () => {
  it('when it lists an EHR, then its iss (without a trailing slash), client, authentication and organisation are read', () => {
    expect(parseEhrsFile({ ehrs: [{ iss: 'https://ehr.rtt.nhs.uk/fhir/', client_id: 'eso', auth: 'private_key_jwt', organization: 'RTT' }] }))
      .toEqual([{ iss: 'https://ehr.rtt.nhs.uk/fhir', clientId: 'eso', auth: 'private_key_jwt', organization: 'RTT' }]);
  });

  it.each([
    [{ ehrs: [{ iss: 'https://e/fhir', client_id: 'c', auth: 'client_secret_basic', organization: 'RTT' }] }, 'client_secret'],
    [{ ehrs: [{ iss: 'not a url', client_id: 'c', auth: 'none', organization: 'RTT' }] }, 'iss'],
    [{ ehrs: [{ iss: 'https://e/fhir', client_id: 'c', auth: 'password', organization: 'RTT' }] }, 'auth'],
    [{ ehrs: [{ iss: 'https://e/fhir', client_id: 'c', auth: 'none', organization: 'rtt lower' }] }, 'organization'],
  ])('when an entry is wrong (%j), then the file is refused naming %s', (json, field) => {
    expect(() => parseEhrsFile(json)).toThrow(field);
  });

  it('when the file changes while the server runs, then the new EHR is known and a broken file keeps the previous list', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehrs-'));
    const file = join(dir, 'ehrs.json');
    const registry = new EhrRegistry(file, createLogger('silent'), 0);
    expect(await registry.find('https://e/fhir')).toBeUndefined();
    await writeJsonFileAtomic(file, { ehrs: [{ iss: 'https://e/fhir', client_id: 'c', auth: 'none', organization: 'RTT' }] });
    expect(await registry.find('https://e/fhir/')).toMatchObject({ clientId: 'c' });
    await writeJsonFileAtomic(file, { ehrs: 'broken' });
    expect(await registry.find('https://e/fhir')).toMatchObject({ clientId: 'c' });
    await rm(dir, { recursive: true, force: true });
  });
});
