/** The CapabilityStatement (rest/capabilities.ts): what each resource type declares. */
import type { CapabilityStatementRestResource } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { RESOURCE_TYPES, SearchParameterRegistry } from '../../../src/fhir/search-params.ts';
import { buildCapabilityStatement, clientInteractions } from '../../../src/rest/capabilities.ts';

const statement = buildCapabilityStatement({
  baseUrl: 'https://eso.example', searchParams: SearchParameterRegistry.build(), version: '9.9.9',
  subscriptionTopics: ['https://eso.example/topic/case'], readOnlyTypes: ['StructureDefinition'],
});
const rest = statement.rest![0];
const of = (type: string): CapabilityStatementRestResource => rest.resource!.find((r) => r.type === type)!;
const codes = (type: string) => of(type).interaction!.map((i) => i.code);
const WRITES = ['create', 'update', 'patch'];

describe('CapabilityStatement', () => {
  it('when a type is written by the server only (AuditEvent, Provenance), then it declares reads and searches, no write, no $validate', () => {
    for (const type of ['AuditEvent', 'Provenance']) {
      expect(codes(type)).toEqual(expect.arrayContaining(['read', 'vread', 'history-instance', 'search-type']));
      for (const w of WRITES) expect(codes(type)).not.toContain(w);
      expect(of(type).conditionalCreate).toBe(false);
      expect(of(type).conditionalUpdate).toBe(false);
      expect(of(type).operation ?? []).toEqual([]);
    }
  });

  it('when the type is Organization, then it may be updated and patched but never created', () => {
    expect(codes('Organization')).toEqual(expect.arrayContaining(['read', 'update', 'patch']));
    expect(codes('Organization')).not.toContain('create');
    expect(of('Organization').conditionalCreate).toBe(false);
    expect(of('Organization').conditionalUpdate).toBe(false);
  });

  it('when a type is written by clients (Task), then it declares create, update, patch, conditional create/update, $validate and $everything', () => {
    expect(codes('Task')).toEqual(expect.arrayContaining(['read', 'search-type', ...WRITES]));
    expect(of('Task')).toMatchObject({ conditionalCreate: true, conditionalUpdate: true, updateCreate: false, versioning: 'versioned-update', conditionalDelete: 'not-supported' });
    expect(of('Task').operation?.map((o) => o.name)).toEqual(['validate', 'everything']);
  });

  it('when any type is declared, then it has no delete and every declared interaction is one clientInteractions grants', () => {
    for (const type of RESOURCE_TYPES) {
      expect(codes(type)).not.toContain('delete');
      expect(codes(type)).toEqual(clientInteractions(type));
      expect(of(type).searchParam?.slice(0, 2).map((p) => p.name)).toEqual(['_id', '_lastUpdated']);
    }
  });

  it('when read-only types and subscription topics are given, then they are declared', () => {
    expect(codes('StructureDefinition')).toEqual(['read', 'search-type']);
    const sub = of('Subscription');
    expect(sub.extension?.map((e) => e.valueCanonical)).toEqual(['https://eso.example/topic/case']);
    expect(sub.operation?.map((o) => o.name)).toEqual(expect.arrayContaining(['status', 'events']));
  });

  it('when the statement is built, then it names the server, FHIR 4.0.1, and transaction and batch at the base', () => {
    expect(statement).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance', software: { name: 'eso-bridge', version: '9.9.9' }, implementation: { url: 'https://eso.example/fhir' } });
    expect(rest.interaction?.map((i) => i.code)).toEqual(['transaction', 'batch']);
  });
});
