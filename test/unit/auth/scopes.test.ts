import { describe, expect, it } from 'vitest';
import { grantScopes, parseScope, permits } from '../../../src/auth/scopes.ts';

describe('parseScope', () => {
  it.each([
    ['system/Task.rs', { type: 'Task', perms: 'rs' }],
    ['system/*.cruds', { type: '*', perms: 'cruds' }],
    ['system/Task.c', { type: 'Task', perms: 'c' }],
    ['system/Task.read', { type: 'Task', perms: 'rs' }],
    ['system/Task.write', { type: 'Task', perms: 'cud' }],
    ['system/*.*', { type: '*', perms: 'cruds' }],
  ])('when %s is parsed, then it is %j', (scope, expected) => {
    expect(parseScope(scope)).toEqual(expected);
  });

  it.each(['system/Task.sr', 'system/Task.', 'system/Task.x', 'user/Task.rs', 'patient/*.read', 'system/task.rs', 'system/Task.rs?status=active',
    'launch', 'openid', `system/${'A'.repeat(200)}.rs`, 'system/Task.crudss'])('when %s is parsed, then it is not a system scope', (scope) => {
    expect(parseScope(scope)).toBeUndefined();
  });
});

describe('grantScopes', () => {
  it('when the allowed scope is a wildcard, then the requested scope is granted as written', () => {
    expect(grantScopes(['system/Task.rs', 'system/Patient.read'], ['system/*.cruds'])).toEqual({
      granted: ['system/Task.rs', 'system/Patient.read'], scopes: ['system/Task.rs', 'system/Patient.rs'],
    });
  });

  it('when more is requested than allowed, then the grant is the intersection in v2 form', () => {
    expect(grantScopes(['system/*.cruds'], ['system/Task.rs', 'system/ServiceRequest.read'])).toEqual({
      granted: ['system/Task.rs', 'system/ServiceRequest.rs'], scopes: ['system/Task.rs', 'system/ServiceRequest.rs'],
    });
    expect(grantScopes(['system/Task.cruds'], ['system/Task.rs']).granted).toEqual(['system/Task.rs']);
    expect(grantScopes(['system/Task.write'], ['system/*.read']).granted).toEqual([]);
  });

  it('when scopes the server does not issue are asked for, then they are dropped', () => {
    expect(grantScopes(['openid', 'user/*.read', 'system/Task.rs'], ['system/*.cruds']).granted).toEqual(['system/Task.rs']);
  });
});

describe('permits', () => {
  it('when a scope names the type or *, then its letters decide', () => {
    expect(permits(['system/Task.rs'], 'Task', 'r')).toBe(true);
    expect(permits(['system/Task.rs'], 'Task', 'c')).toBe(false);
    expect(permits(['system/Task.rs'], 'Patient', 'r')).toBe(false);
    expect(permits(['system/*.s'], 'Patient', 's')).toBe(true);
    expect(permits(['system/Task.write'], 'Task', 'u')).toBe(true);
    expect(permits([], 'Task', 'r')).toBe(false);
  });
});
