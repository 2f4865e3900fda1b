/** The Provenance of a Task change names the person when a clinician acted through the clinician app. */
import type { Task } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { taskProvenance } from '../../../src/domain/provenance.ts';
import { expectValidR4 } from '../../helpers/r4.ts';

const task: Task = { resourceType: 'Task', id: 't1', status: 'received', intent: 'order' };
const stored = { resource: task, versionId: 2, lastUpdated: '2026-11-30T10:00:00.000Z' } as Parameters<typeof taskProvenance>[0]['stored'];

describe('taskProvenance', () => {
  it('when a clinician acts through the app, then a performer agent names them by GMC number beside the organisation and the app', () => {
    const p = taskProvenance({ stored, previous: { ...task, status: 'requested' },
      actor: { organization: 'RPVNP', agent: 'clinician-app:eso-rpv', clinician: { fhirUser: 'https://ehr/fhir/Practitioner/p', display: 'Dr Ngozi Okafor', gmc: '7654321' } } });
    expectValidR4(p);
    expect(p.agent.map((a) => a.type?.coding?.[0]?.code)).toEqual(['author', 'assembler', 'performer']);
    expect(p.agent[2].who).toEqual({ identifier: { system: 'https://fhir.hl7.org.uk/Id/gmc-number', value: '7654321' }, display: 'Dr Ngozi Okafor' });
  });

  it('when the clinician has no GMC number, then their fhirUser identifies them; and a system client names no person', () => {
    const withUser = taskProvenance({ stored, actor: { organization: 'RTT', agent: 'app', clinician: { fhirUser: 'https://ehr/fhir/Practitioner/p' } } });
    expect(withUser.agent[2].who).toEqual({ identifier: { system: 'urn:ietf:rfc:3986', value: 'https://ehr/fhir/Practitioner/p' }, display: 'https://ehr/fhir/Practitioner/p' });
    expect(taskProvenance({ stored, actor: { organization: 'RTT', agent: 'rtt-epr' } }).agent).toHaveLength(2);
  });
});
