/**
 * Inside one transaction, repeated reads and tenancy look-ups come from what the transaction has
 * already seen (src/storage/tx-cache.ts). What a caller sees must be exactly what the database
 * would answer: its own writes, never another caller's changes to a returned object, and after a
 * lock whatever other transactions committed before it.
 */
import type { Patient } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import type { IndexRow, SearchCriterion, SearchQuery } from '../../../src/storage/types.ts';
import { backends, suiteStorage } from '../../helpers/backends.ts';

const patient = (family: string): Patient => ({ resourceType: 'Patient', name: [{ family }] });
/** An index row and a query for one identifier, so searches need no search-parameter registry. */
const mrn = (value: string): IndexRow[] => [{ param: 'identifier', system: 'https://mrn.example', value, low: null, high: null }];
const byMrn = (value: string, ...more: SearchCriterion[]): SearchQuery => ({
  type: 'Patient', criteria: [{ kind: 'token', param: 'identifier', values: [{ system: 'https://mrn.example', code: value }] }, ...more], count: 10, offset: 0, total: 'accurate',
});
/** A writer holds a lock (locked), the test waits for that (lockTaken), and the writer commits when released (held). */
function handoff() {
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let locked!: () => void;
  const lockTaken = new Promise<void>((r) => { locked = r; });
  return { release, held, locked, lockTaken };
}
const families = (found: { resources: { resource: unknown }[] }) => found.resources.map((r) => (r.resource as Patient).name?.[0].family).sort();

describe.each(backends())('reads inside a transaction on %s', (backend) => {
  const suite = suiteStorage(backend);

  it('when a caller changes a resource it read, then the next read in the same transaction still answers what is stored', async () => {
    const { resource } = await suite.storage.transaction((tx) => tx.insertResource(patient('Stored'), []));
    const second = await suite.storage.transaction(async (tx) => {
      const first = await tx.readResource('Patient', resource.id as string);
      (first!.resource as Patient).name = [{ family: 'Changed in memory' }];
      return tx.readResource('Patient', resource.id as string);
    });
    expect((second!.resource as Patient).name?.[0].family).toBe('Stored');
  });

  it('when a transaction updates or creates a resource, then its own later reads see that version, and a missing resource stays missing', async () => {
    const { resource } = await suite.storage.transaction((tx) => tx.insertResource(patient('One'), []));
    const seen = await suite.storage.transaction(async (tx) => {
      const before = await tx.readResource('Patient', resource.id as string);
      await tx.updateResource({ ...(before!.resource as Patient), name: [{ family: 'Two' }] } as Patient, 1, []);
      const after = await tx.readResource('Patient', resource.id as string);
      const missing = await tx.readResource('Patient', 'no-such-patient');
      const made = await tx.insertResource({ ...patient('Three'), id: 'made-here' }, []);
      return { after, missing, made: await tx.readResource('Patient', made.resource.id as string) };
    });
    expect(seen.after?.versionId).toBe(2);
    expect((seen.after!.resource as Patient).name?.[0].family).toBe('Two');
    expect(seen.missing).toBeNull();
    expect((seen.made!.resource as Patient).name?.[0].family).toBe('Three');
  });

  it('when a transaction grants an organisation, then its own look-ups and every later reader see the grant, written once', async () => {
    const { resource } = await suite.storage.transaction((tx) => tx.insertResource(patient('Granted'), []));
    const id = resource.id as string;
    const inTx = await suite.storage.transaction(async (tx) => {
      await tx.grantAccess('Patient', id, ['RA7']);
      const first = await tx.accessOf('Patient', id);
      await tx.grantAccess('Patient', id, ['RA7', 'SGH01']);
      await tx.grantAccess('Patient', id, ['SGH01']);
      return { first, second: await tx.accessOf('Patient', id) };
    });
    expect(inTx.first).toEqual(['RA7']);
    expect([...inTx.second].sort()).toEqual(['RA7', 'SGH01']);
    expect((await suite.storage.accessOf('Patient', id)).sort()).toEqual(['RA7', 'SGH01']);
  });

  it('when a transaction reads a resource or inserts one with grants, then its look-ups answer exactly the organisations granted, none or several', async () => {
    const { resource } = await suite.storage.transaction(async (tx) => {
      const made = await tx.insertResource(patient('Shared'), []);
      await tx.grantAccess('Patient', made.resource.id as string, ['RA7', 'SGH01']);
      return made;
    });
    const plain = await suite.storage.transaction((tx) => tx.insertResource(patient('Nobody'), []));
    const seen = await suite.storage.transaction(async (tx) => {
      await tx.readResource('Patient', resource.id as string);
      await tx.readResource('Patient', plain.resource.id as string);
      const [batch] = await tx.insertBatch([{ resource: patient('Batch'), index: [], orgs: ['RZ1', 'RZ1'] }]);
      return {
        shared: await tx.accessOf('Patient', resource.id as string),
        none: await tx.accessOf('Patient', plain.resource.id as string),
        batch: await tx.accessOf('Patient', batch.resource.id as string),
        batchId: batch.resource.id as string,
      };
    });
    expect([...seen.shared].sort()).toEqual(['RA7', 'SGH01']);
    expect(seen.none).toEqual([]);
    expect(seen.batch).toEqual(['RZ1']);
    expect(await suite.storage.accessOf('Patient', seen.batchId)).toEqual(['RZ1']);
  });

  it('when a transaction searches again, then it gets the same answer, a caller\'s changes do not show, and its own inserts and grants of that type do', async () => {
    await suite.storage.transaction((tx) => tx.insertResource(patient('First'), mrn('S1')));
    const seen = await suite.storage.transaction(async (tx) => {
      const first = await tx.search(byMrn('S1'));
      (first.resources[0].resource as Patient).name = [{ family: 'Changed in memory' }];
      const again = await tx.search(byMrn('S1'));
      const made = await tx.insertResource(patient('Second'), mrn('S1'));
      const afterInsert = await tx.search(byMrn('S1'));
      const granted = await tx.search(byMrn('S1', { kind: 'org', orgs: ['RA7'] }));
      await tx.grantAccess('Patient', made.resource.id as string, ['RA7']);
      const afterGrant = await tx.search(byMrn('S1', { kind: 'org', orgs: ['RA7'] }));
      return { again, afterInsert, granted, afterGrant };
    });
    expect(families(seen.again)).toEqual(['First']);
    expect(seen.again.total).toBe(1);
    expect(families(seen.afterInsert)).toEqual(['First', 'Second']);
    expect(seen.afterInsert.total).toBe(2);
    expect(families(seen.granted)).toEqual([]);
    expect(families(seen.afterGrant)).toEqual(['Second']);
  });

  it.runIf(backend === 'postgres')('when another transaction commits a match while one waits for a lock, then a search after the lock finds it', async () => {
    const { release, held, locked, lockTaken } = handoff();
    const writer = suite.storage.transaction(async (tx) => {
      await tx.lock('child:search');
      locked();
      await tx.insertResource(patient('Committed meanwhile'), mrn('S2'));
      await held;
    });
    await lockTaken;
    const reader = suite.storage.transaction(async (tx) => {
      const early = await tx.search(byMrn('S2'));
      const waiting = tx.lock('child:search');
      release();
      await waiting;
      return { early, late: await tx.search(byMrn('S2')) };
    });
    await writer;
    const { early, late } = await reader;
    expect(families(early)).toEqual([]);
    expect(families(late)).toEqual(['Committed meanwhile']);
  });

  it.runIf(backend === 'postgres')('when another transaction commits a change while one waits for a lock, then reads after the lock see that change', async () => {
    const { resource } = await suite.storage.transaction((tx) => tx.insertResource(patient('Before'), []));
    const id = resource.id as string;
    const { release, held, locked, lockTaken } = handoff();
    // The writer holds the lock, changes the Patient, and commits when told to.
    const writer = suite.storage.transaction(async (tx) => {
      await tx.lock('child:test');
      locked();
      const cur = await tx.readResource('Patient', id);
      await tx.updateResource({ ...(cur!.resource as Patient), name: [{ family: 'After' }] } as Patient, cur!.versionId, []);
      await held;
    });
    await lockTaken;
    const reader = suite.storage.transaction(async (tx) => {
      const early = await tx.readResource('Patient', id);
      const waiting = tx.lock('child:test');
      release();
      await waiting;
      return { early, late: await tx.readResource('Patient', id) };
    });
    await writer;
    const { early, late } = await reader;
    expect((early!.resource as Patient).name?.[0].family).toBe('Before');
    expect((late!.resource as Patient).name?.[0].family).toBe('After');
  });
});
