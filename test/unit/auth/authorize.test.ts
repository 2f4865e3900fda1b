import { describe, expect, it } from 'vitest';
import { authorizeFor } from '../../../src/auth/authorize.ts';
import type { Principal } from '../../../src/auth/principal.ts';
import { isOutcomeError } from '../../../src/shared/outcomes.ts';

const p = (scopes: string[]): Principal => ({ clientId: 'c', organization: 'RQ1', scopes });

function statusOf(fn: () => void): number {
  try {
    fn();
    return 200;
  } catch (e) {
    return isOutcomeError(e) ? e.status : 500;
  }
}

describe('authorizeFor', () => {
  const on = { authDisabled: false };

  it.each([
    ['read', 'Task', ['system/Task.r'], 200], ['vread', 'Task', ['system/Task.r'], 200], ['history', 'Task', ['system/Task.r'], 200],
    ['search', 'Task', ['system/Task.r'], 403], ['search', 'Task', ['system/Task.s'], 200], ['create', 'Task', ['system/Task.rs'], 403],
    ['create', 'Task', ['system/Task.c'], 200], ['update', 'Task', ['system/Task.c'], 403], ['update', 'Task', ['system/*.write'], 200],
    ['delete', 'Task', ['system/Task.d'], 200], ['read', 'Patient', ['system/Task.cruds'], 403],
    ['transaction', 'Bundle', [], 200], ['batch', 'Bundle', [], 200], ['capabilities', 'CapabilityStatement', [], 200],
  ] as const)('when %s on %s with %j, then %i', (interaction, type, scopes, status) => {
    expect(statusOf(() => authorizeFor(p([...scopes]), on)(interaction, type))).toBe(status);
  });

  it('when a client with every scope writes an AuditEvent, then it is refused: the server alone writes them', () => {
    expect(statusOf(() => authorizeFor(p(['system/*.cruds']), on)('create', 'AuditEvent'))).toBe(403);
    expect(statusOf(() => authorizeFor(p(['system/*.cruds']), on)('update', 'AuditEvent'))).toBe(403);
    expect(statusOf(() => authorizeFor(p(['system/AuditEvent.rs']), on)('search', 'AuditEvent'))).toBe(200);
  });

  it('when there is no principal, then only the disabled-auth system may act', () => {
    expect(statusOf(() => authorizeFor(undefined, on)('read', 'Task'))).toBe(401);
    expect(statusOf(() => authorizeFor(undefined, { authDisabled: true })('read', 'Task'))).toBe(200);
    expect(statusOf(() => authorizeFor(undefined, on)('capabilities', 'CapabilityStatement'))).toBe(200);
  });
});
