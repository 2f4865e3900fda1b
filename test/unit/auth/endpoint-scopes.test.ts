import { describe, expect, it } from 'vitest';
import { authorizeFor } from '../../../src/auth/authorize.ts';
import { ENDPOINT_SCOPES, endpointScopesDescription, requireEndpointScopes } from '../../../src/auth/endpoint-scopes.ts';
import type { Principal } from '../../../src/auth/principal.ts';
import { isOutcomeError } from '../../../src/shared/outcomes.ts';

const client = (...scopes: string[]): Principal => ({ clientId: 'rq1-epr', organization: 'RQ1', scopes });
const check = (principal: Principal | undefined, authDisabled = false) => authorizeFor(principal, { authDisabled });

/** The status and diagnostics of what `fn` throws, or 'allowed'. */
function outcomeOf(fn: () => void): string {
  try {
    fn();
    return 'allowed';
  } catch (e) {
    if (!isOutcomeError(e)) throw e;
    return `${e.status} ${e.outcome.issue[0].diagnostics}`;
  }
}

describe('scopes of /eso/* and /hl7/v2', () => {
  it('when a client holds only one of the two create scopes of a new case, then 403 names both', () => {
    expect(outcomeOf(() => requireEndpointScopes(check(client('system/Task.c')), ENDPOINT_SCOPES.esoRequest)))
      .toBe('403 Insufficient scope: POST /eso/requests needs system/ServiceRequest.c and system/Task.c');
  });

  it('when a client holds both (v2 letters, v1 write or a wildcard), then a new case is allowed', () => {
    for (const scopes of [['system/ServiceRequest.c', 'system/Task.c'], ['system/ServiceRequest.write', 'system/Task.write'], ['system/*.c']]) {
      expect(outcomeOf(() => requireEndpointScopes(check(client(...scopes)), ENDPOINT_SCOPES.hl7v2)), scopes.join(' ')).toBe('allowed');
    }
  });

  it('when a client may read but not search Tasks, then it has the timeline but not the overdue list', () => {
    const reader = check(client('system/Task.r'));
    expect(outcomeOf(() => requireEndpointScopes(reader, ENDPOINT_SCOPES.timeline))).toBe('allowed');
    expect(outcomeOf(() => requireEndpointScopes(reader, ENDPOINT_SCOPES.overdue))).toBe('403 Insufficient scope: GET /eso/overdue needs system/Task.s');
  });

  it('when there is no principal, then 401 with authentication on and allowed with it disabled', () => {
    expect(outcomeOf(() => requireEndpointScopes(check(undefined), ENDPOINT_SCOPES.esoRequest))).toMatch(/^401 /);
    expect(outcomeOf(() => requireEndpointScopes(check(undefined, true), ENDPOINT_SCOPES.esoRequest))).toBe('allowed');
  });

  it('when the CapabilityStatement describes them, then every endpoint and its scopes are named', () => {
    expect(endpointScopesDescription()).toBe('Outside /fhir: POST /eso/requests needs system/ServiceRequest.c and system/Task.c; '
      + 'POST /hl7/v2 needs system/ServiceRequest.c and system/Task.c; GET /eso/cases/{id}/timeline needs system/Task.r; GET /eso/overdue needs system/Task.s.');
  });
});
