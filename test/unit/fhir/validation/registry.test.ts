import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ESO_BASE, Extensions, Profiles, Systems } from '../../../../src/fhir/eso-urls.ts';
import { DEFAULT_PROFILES_DIR, defaultBaseTable, loadProfiles } from '../../../../src/fhir/validation/index.ts';

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A copy of profiles/ to break on purpose. */
function copyOfProfiles(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eso-profiles-'));
  temps.push(dir);
  cpSync(DEFAULT_PROFILES_DIR, dir, { recursive: true });
  return dir;
}

function edit(dir: string, file: string, change: (json: Record<string, any>) => void): void {
  const path = join(dir, file);
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
  change(json);
  writeFileSync(path, JSON.stringify(json));
}

describe('loadProfiles', () => {
  it('when profiles/ is loaded, then every ESO canonical URL resolves to its resource', () => {
    const registry = loadProfiles();
    for (const url of [...Object.values(Extensions), ...Object.values(Profiles)]) {
      expect(registry.byUrl(url)?.resourceType, url).toBe('StructureDefinition');
    }
    expect(registry.byUrl(Systems.esoCodes)?.resourceType).toBe('CodeSystem');
    expect(registry.byUrl(`${Profiles.task}|0.1.0`)?.resourceType).toBe('StructureDefinition');
    expect(registry.valueSets.map((v) => v.id).sort()).toEqual(['eso-business-status', 'eso-question-asker', 'eso-review-kind', 'eso-service']);
    expect(registry.searchParameters.map((s) => [s.code, s.type, s.expression]).sort()).toEqual([
      ['business-status', 'token', 'Task.businessStatus'],
      ['due', 'date', 'Task.restriction.period.end'],
      ['part-of', 'reference', 'Task.partOf'],
    ]);
  });

  it('when eso-business-status is expanded, then it lists the ESO steps as system|code', () => {
    const expansion = loadProfiles().expandValueSet(`${ESO_BASE}/ValueSet/eso-business-status`);
    expect(expansion.size).toBe(15);
    expect(expansion.has(`${Systems.esoCodes}|records-review`)).toBe(true);
    expect(expansion.has(`${Systems.esoCodes}|cancel-requested`)).toBe(true);
    expect(expansion.has(`${Systems.esoCodes}|family`)).toBe(false);
  });

  it('when a ValueSet includes a whole CodeSystem, then the expansion holds all its codes', () => {
    const dir = copyOfProfiles();
    edit(dir, 'ValueSet-eso-service.json', (vs) => {
      vs.compose.include = [{ system: Systems.esoCodes }];
    });
    const codes = JSON.parse(readFileSync(join(dir, 'CodeSystem-eso.json'), 'utf8')) as { concept: unknown[] };
    expect(loadProfiles(dir).expandValueSet(`${ESO_BASE}/ValueSet/eso-service`).size).toBe(codes.concept.length);
  });

  it('when a ValueSet is unknown, then expandValueSet throws', () => {
    expect(() => loadProfiles().expandValueSet('http://example.org/ValueSet/nope')).toThrow(/not in profiles/);
  });

  it('when two files share a canonical URL, then loading fails', () => {
    const dir = copyOfProfiles();
    cpSync(join(dir, 'ValueSet-eso-service.json'), join(dir, 'ValueSet-eso-service-copy.json'));
    expect(() => loadProfiles(dir)).toThrow(/duplicate canonical URL/);
  });

  it('when a required binding points at a missing ValueSet, then loading fails', () => {
    const dir = copyOfProfiles();
    rmSync(join(dir, 'ValueSet-eso-question-asker.json'));
    expect(() => loadProfiles(dir)).toThrow(/unknown ValueSet/);
  });

  it('when a profile slices an extension that is not defined, then loading fails', () => {
    const dir = copyOfProfiles();
    rmSync(join(dir, 'StructureDefinition-eso-answer.json'));
    expect(() => loadProfiles(dir)).toThrow(/unknown extension profile/);
  });

  it('when a ValueSet uses a filter, then loading fails rather than skipping the binding', () => {
    const dir = copyOfProfiles();
    edit(dir, 'ValueSet-eso-review-kind.json', (vs) => {
      vs.compose.include = [{ system: Systems.esoCodes, filter: [{ property: 'concept', op: 'is-a', value: 'visit' }] }];
    });
    expect(() => loadProfiles(dir)).toThrow(/only includes/);
  });

  it('when an ESO profile is missing, then loading fails', () => {
    const dir = copyOfProfiles();
    rmSync(join(dir, 'StructureDefinition-eso-consent.json'));
    expect(() => loadProfiles(dir)).toThrow(/eso-consent is missing/);
  });
});

describe('profiles/r4-base/elements.json', () => {
  it('when the base table is read, then it is small and covers the service resource types', () => {
    const size = statSync(join(DEFAULT_PROFILES_DIR, 'r4-base', 'elements.json')).size;
    expect(size).toBeLessThan(2 * 1024 * 1024);
    const table = defaultBaseTable();
    expect(table.fhirVersion).toBe('4.0.1');
    for (const type of ['Patient', 'ServiceRequest', 'Task', 'Consent', 'DiagnosticReport', 'AuditEvent', 'Bundle']) {
      expect(table.resourceTypes.has(type), type).toBe(true);
    }
    expect(table.types.get('Task')?.elements.get('')?.get('status')).toEqual({
      min: 1, max: '1', type: ['code'], binding: 'http://hl7.org/fhir/ValueSet/task-status',
    });
    expect(table.valueSets.get('http://hl7.org/fhir/ValueSet/task-status')?.codes.has('in-progress')).toBe(true);
  });

  it('when a type is referenced by an element, then the table defines it', () => {
    const table = defaultBaseTable();
    for (const [typeName, info] of table.types) {
      for (const children of info.elements.values()) {
        for (const [name, def] of children) {
          for (const type of def.type ?? []) {
            if (type === 'BackboneElement' || type === 'Resource') continue;
            expect(table.types.has(type), `${typeName}.${name}: ${type}`).toBe(true);
          }
        }
      }
    }
  });
});
