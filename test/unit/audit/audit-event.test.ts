/** The AuditEvent of an access: valid R4, BALP-shaped, and nothing in it a reader should not see. */
import { describe, expect, it } from 'vitest';
import { buildAuditEvent, CLIENT_ID_SYSTEM } from '../../../src/audit/audit-event.ts';
import { expectValidR4 } from '../../helpers/r4.ts';

const principal = { clientId: 'rq1-epr', organization: 'RQ1', scopes: ['system/*.cruds'] };

describe('buildAuditEvent', () => {
  it('when a client reads a Task, then the event names the interaction, both agents, the Task and the request id', () => {
    const e = buildAuditEvent({ interaction: 'read', resourceType: 'Task', id: 't1', status: 200, principal, requestId: 'req-1', entities: ['Task/t1'], network: '127.0.0.1' }, 'https://eso.example');
    expectValidR4(e);
    expect(e.type).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
    expect(e.subtype).toEqual([{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }]);
    expect(e.action).toBe('R');
    expect(e.outcome).toBe('0');
    expect(e.agent[0]).toMatchObject({ who: { identifier: { system: CLIENT_ID_SYSTEM, value: 'rq1-epr' } }, requestor: true });
    expect(e.agent[1]).toMatchObject({ who: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RQ1' } }, requestor: false });
    expect(e.entity?.map((x) => x.what)).toEqual([{ reference: 'Task/t1' }, { identifier: { value: 'req-1' } }]);
    expect(e.source.observer).toMatchObject({ display: 'eso-bridge' });
  });

  it.each([
    ['create', 201, 'C', '0'], ['update', 200, 'U', '0'], ['search', 200, 'E', '0'], ['read', 404, 'R', '4'], ['search', 403, 'E', '4'], ['token', 401, 'E', '4'], ['read', 500, 'R', '8'],
  ] as const)('when %s answers %i, then action %s and outcome %s', (interaction, status, action, outcome) => {
    const e = buildAuditEvent({ interaction, status, principal, requestId: 'r' }, 'https://eso.example');
    expectValidR4(e);
    expect([e.action, e.outcome]).toEqual([action, outcome]);
  });

  it('when a clinician acts through the clinician app, then the person is a third agent, by GMC number, beside the app and the organisation', () => {
    const clinician = { fhirUser: 'https://ehr.example/fhir/Practitioner/p1', display: 'Dr Sam Hughes', gmc: '1234567' };
    const e = buildAuditEvent({ interaction: 'operation', status: 200, principal: { ...principal, clinician }, requestId: 'r' }, 'https://eso.example');
    expectValidR4(e);
    expect(e.agent).toHaveLength(3);
    expect(e.agent[2]).toMatchObject({ who: { identifier: { system: 'https://fhir.hl7.org.uk/Id/gmc-number', value: '1234567' }, display: 'Dr Sam Hughes' },
      altId: clinician.fhirUser, requestor: true });
  });

  it('when the caller is unauthenticated, then the agent says so and no organisation is named', () => {
    const e = buildAuditEvent({ interaction: 'search', resourceType: 'Patient', status: 401, requestId: 'r', detail: 'token expired' }, 'https://eso.example');
    expectValidR4(e);
    expect(e.agent).toHaveLength(1);
    expect(e.agent[0].who).toEqual({ display: 'unauthenticated' });
    expect(e.outcomeDesc).toBe('HTTP 401: token expired');
  });

  it('when the path holds something that is not an id, then it does not become an entity', () => {
    const e = buildAuditEvent({ interaction: 'read', resourceType: 'Patient', id: '9434765919 or x', status: 404, principal, requestId: 'r' }, 'https://eso.example');
    expect(JSON.stringify(e)).not.toContain('9434765919');
  });
});
