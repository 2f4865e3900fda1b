/**
 * The provider's confirmation of a federated cancel (src/federation/cancel-confirmed.ts) moves the
 * requester's Task to cancelled and writes its AuditEvent in one transaction: both or neither. Real
 * SQLite storage and Repository; the audit writer is the one seam, made to fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esoCoding } from '../../../src/domain/codes.ts';
import { loadConformance } from '../../../src/fhir/conformance.ts';
import { Repository } from '../../../src/fhir/repository.ts';
import { cancelConfirmed } from '../../../src/federation/cancel-confirmed.ts';
import type { ReceiverDeps } from '../../../src/federation/receiver.ts';
import { openStorage } from '../../../src/storage/open.ts';
import type { Storage } from '../../../src/storage/types.ts';

describe('a federated cancel confirmed by the provider\'s Trust', () => {
  let dir: string;
  let storage: Storage;
  let repo: () => Repository;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eso-cancel-confirmed-'));
    storage = await openStorage({ dataDir: dir });
    const { searchParams } = loadConformance();
    repo = () => new Repository(storage, { baseUrl: 'http://eso.test/fhir', searchParams, validate: () => undefined });
  });
  afterAll(async () => {
    await storage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A requester's Task waiting for the provider's confirmation. */
  const waiting = async (): Promise<Task> => (await repo().create<Task>({ resourceType: 'Task', status: 'requested', intent: 'order',
    businessStatus: { coding: [esoCoding('cancel-requested')] } })).stored.resource;
  const message = (taskId: string) => ({ taskId, requestId: 'fed-req-1', senderOds: 'RZ1', destinationOds: 'RZ2' });
  const statusOf = async (id: string) => (await repo().read<Task>('Task', id)).resource.status;

  it('when its AuditEvent cannot be written, then the Task is not cancelled either: both or neither', async () => {
    const task = await waiting();
    const failing: ReceiverDeps['auditIn'] = async () => { throw new Error('audit write failed'); };
    await expect(cancelConfirmed(() => repo(), message(task.id!), failing)).rejects.toThrow('audit write failed');
    expect(await statusOf(task.id!)).toBe('requested');
  });

  it('when the provider confirms, then the AuditEvent is written in the move\'s own transaction, for our Trust, naming the Task, the confirming Trust and the message; a repeat records nothing', async () => {
    const task = await waiting();
    const written: { organization: string; detail: string; entities: string[]; requestId: string; statusInTx: string }[] = [];
    const auditIn: ReceiverDeps['auditIn'] = async (tx, actor, record) => {
      written.push({ organization: actor.organization, detail: record.detail, entities: record.entities, requestId: record.requestId,
        statusInTx: (await repo().withTx(tx).read<Task>('Task', task.id!)).resource.status });
    };
    await cancelConfirmed(() => repo(), message(task.id!), auditIn);
    expect(await statusOf(task.id!)).toBe('cancelled');
    expect(written).toEqual([{ organization: 'RZ1', detail: 'fhir-message-eso-cancel-confirmed (by RZ2)', entities: [`Task/${task.id}`], requestId: 'fed-req-1', statusInTx: 'cancelled' }]);
    await cancelConfirmed(() => repo(), message(task.id!), auditIn);
    expect(written).toHaveLength(1);
  });
});
