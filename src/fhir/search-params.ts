/**
 * The search parameters this server implements, per resource type, and the extraction of
 * index rows from a resource. The CapabilityStatement is generated from the same registry.
 * https://hl7.org/fhir/R4/search.html
 */
import type { Resource } from 'fhir/r4.js';
import type { IndexRow } from '../storage/types.ts';
import { dateRange } from './dates.ts';
import { valuesAt } from './paths.ts';

export type SearchParamType = 'token' | 'reference' | 'string' | 'date';

export interface SearchParamDef {
  code: string;
  type: SearchParamType;
  /** Paths below the resource root; alternatives are OR-ed. */
  paths: string[];
  /** reference: the target types allowed (used for bare ids and `_include`). */
  targets?: string[];
  documentation?: string;
}

const p = (code: string, type: SearchParamType, paths: string | string[], targets?: string[]): SearchParamDef =>
  ({ code, type, paths: Array.isArray(paths) ? paths : [paths], targets });

const identifier = p('identifier', 'token', 'identifier');

/** The base table: read-only (a registry copies it). */
const DEFS: Readonly<Record<string, readonly SearchParamDef[]>> = Object.freeze({
  Patient: [identifier, p('name', 'string', 'name'), p('family', 'string', 'name.family'), p('given', 'string', 'name.given'),
    p('birthdate', 'date', 'birthDate'), p('gender', 'token', 'gender'), p('organization', 'reference', 'managingOrganization', ['Organization'])],
  RelatedPerson: [identifier, p('patient', 'reference', 'patient', ['Patient']), p('name', 'string', 'name'), p('relationship', 'token', 'relationship')],
  Practitioner: [identifier, p('name', 'string', 'name'), p('family', 'string', 'name.family')],
  PractitionerRole: [identifier, p('practitioner', 'reference', 'practitioner', ['Practitioner']), p('organization', 'reference', 'organization', ['Organization']),
    p('role', 'token', 'code')],
  Organization: [identifier, p('name', 'string', 'name'), p('partof', 'reference', 'partOf', ['Organization']), p('type', 'token', 'type')],
  ServiceRequest: [identifier, p('patient', 'reference', 'subject', ['Patient']), p('subject', 'reference', 'subject', ['Patient']),
    p('status', 'token', 'status'), p('intent', 'token', 'intent'), p('priority', 'token', 'priority'), p('code', 'token', 'code'),
    p('requester', 'reference', 'requester', ['Practitioner', 'PractitionerRole', 'Organization', 'Patient', 'RelatedPerson']),
    p('performer', 'reference', 'performer', ['Practitioner', 'PractitionerRole', 'Organization']),
    p('authored', 'date', 'authoredOn'), p('authored-on', 'date', 'authoredOn')],
  Task: [identifier, p('patient', 'reference', 'for', ['Patient']), p('subject', 'reference', 'for', ['Patient']), p('for', 'reference', 'for', ['Patient']),
    p('status', 'token', 'status'), p('intent', 'token', 'intent'), p('priority', 'token', 'priority'), p('code', 'token', 'code'),
    p('business-status', 'token', 'businessStatus'),
    p('owner', 'reference', 'owner', ['Organization', 'Practitioner', 'PractitionerRole']),
    p('requester', 'reference', 'requester', ['Organization', 'Practitioner', 'PractitionerRole']),
    p('performer', 'token', 'performerType'), p('focus', 'reference', 'focus', ['ServiceRequest']),
    p('based-on', 'reference', 'basedOn', ['ServiceRequest']), p('authored-on', 'date', 'authoredOn'), p('modified', 'date', 'lastModified'),
    p('period', 'date', 'executionPeriod')],
  Consent: [identifier, p('patient', 'reference', 'patient', ['Patient']), p('status', 'token', 'status'), p('scope', 'token', 'scope'),
    p('category', 'token', 'category'), p('actor', 'reference', 'provision.actor.reference', ['Organization', 'Practitioner', 'PractitionerRole']),
    p('consentor', 'reference', 'performer', ['RelatedPerson', 'Patient', 'Practitioner', 'Organization']),
    p('period', 'date', 'provision.period'), p('date', 'date', 'dateTime'), p('data', 'reference', 'provision.data.reference', ['DocumentReference', 'ServiceRequest'])],
  DiagnosticReport: [identifier, p('patient', 'reference', 'subject', ['Patient']), p('subject', 'reference', 'subject', ['Patient']),
    p('based-on', 'reference', 'basedOn', ['ServiceRequest']), p('status', 'token', 'status'), p('code', 'token', 'code'),
    p('performer', 'reference', 'performer', ['Organization', 'Practitioner', 'PractitionerRole']), p('issued', 'date', 'issued'),
    p('date', 'date', ['effectiveDateTime', 'effectivePeriod'])],
  DocumentReference: [identifier, p('patient', 'reference', 'subject', ['Patient']), p('subject', 'reference', 'subject', ['Patient']),
    p('status', 'token', 'status'), p('type', 'token', 'type'), p('related', 'reference', 'context.related', ['ServiceRequest']),
    p('author', 'reference', 'author', ['Organization', 'Practitioner', 'PractitionerRole'])],
  Binary: [],
  Condition: [identifier, p('patient', 'reference', 'subject', ['Patient']), p('subject', 'reference', 'subject', ['Patient']), p('code', 'token', 'code'),
    p('clinical-status', 'token', 'clinicalStatus')],
  Provenance: [p('target', 'reference', 'target', ['Task', 'ServiceRequest', 'Consent', 'DiagnosticReport', 'DocumentReference']),
    p('patient', 'reference', 'target', ['Patient']), p('agent', 'reference', 'agent.who', ['Organization', 'Practitioner', 'PractitionerRole', 'Device']),
    p('recorded', 'date', 'recorded')],
  // Subscriptions Backport (R4): the subscriber's own, by status, topic (criteria) and channel.
  Subscription: [p('status', 'token', 'status'), p('criteria', 'string', 'criteria'), p('type', 'token', 'channel.type'), p('url', 'string', 'channel.endpoint')],
  AuditEvent: [p('date', 'date', 'recorded'), p('agent', 'reference', 'agent.who', ['Organization', 'Practitioner', 'Device']),
    p('entity', 'reference', 'entity.what'), p('type', 'token', 'type'), p('subtype', 'token', 'subtype'), p('action', 'token', 'action'),
    p('outcome', 'token', 'outcome'), p('source', 'token', 'source.observer.identifier')],
});

/** The resource types this server stores (the base table's keys; profiles/ adds parameters, never types). */
export const RESOURCE_TYPES: readonly string[] = Object.freeze(Object.keys(DEFS));

export function isSupportedType(type: string): boolean {
  return Object.hasOwn(DEFS, type);
}

/** A SearchParameter resource, as far as the registry reads it. */
export interface SearchParameterSource {
  code: string;
  base: string[];
  type: string;
  expression?: string;
  target?: string[];
  description?: string;
}

/** The definition a SearchParameter resource gives, per base type. Only simple `Type.path.to.element` expressions are supported. */
function definitionsOf(sp: SearchParameterSource): [string, SearchParamDef][] {
  if (!['token', 'reference', 'string', 'date'].includes(sp.type)) throw new Error(`SearchParameter ${sp.code}: type ${sp.type} not supported`);
  return sp.base.map((base) => {
    if (!isSupportedType(base)) throw new Error(`SearchParameter ${sp.code}: base ${base} is not a type this server stores`);
    const paths = (sp.expression ?? '').split('|').map((e) => e.trim()).filter((e) => e.startsWith(`${base}.`)).map((e) => e.slice(base.length + 1));
    if (!paths.length || paths.some((x) => !/^[A-Za-z]+(\.[A-Za-z]+)*$/.test(x))) throw new Error(`SearchParameter ${sp.code}: expression not a simple path`);
    return [base, { code: sp.code, type: sp.type as SearchParamType, paths, targets: sp.target, documentation: sp.description }];
  });
}

/**
 * The search parameters of this server: the base table plus the SearchParameter resources of
 * profiles/ (which add ESO ones, or replace a base one of the same code). Built once at start
 * by `loadConformance` and handed to the repository, the search parser and the indexer; it
 * never changes afterwards, so every resource is indexed by the same parameters it is searched by.
 * https://hl7.org/fhir/R4/searchparameter.html
 */
export class SearchParameterRegistry {
  private readonly defs: ReadonlyMap<string, readonly SearchParamDef[]>;

  private constructor(defs: Map<string, SearchParamDef[]>) {
    this.defs = defs;
  }

  /** The base table plus `extra` (an unsupported type or expression throws: the server does not start). */
  static build(extra: SearchParameterSource[] = []): SearchParameterRegistry {
    const defs = new Map(Object.entries(DEFS).map(([type, list]) => [type, [...list]]));
    for (const sp of extra) {
      for (const [base, def] of definitionsOf(sp)) {
        const list = defs.get(base)!;
        const existing = list.findIndex((d) => d.code === def.code);
        if (existing >= 0) list[existing] = def;
        else list.push(def);
      }
    }
    return new SearchParameterRegistry(defs);
  }

  /** The parameters of `type` (none for a type this server does not store). */
  paramsOf(type: string): readonly SearchParamDef[] {
    return this.defs.get(type) ?? [];
  }

  find(type: string, code: string): SearchParamDef | undefined {
    return this.paramsOf(type).find((d) => d.code === code);
  }
}

/** Lower-case, accents removed: what string search compares. */
export function normaliseString(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
}

/** "Type/id" of a relative or absolute reference (absolute only if it points at `baseUrl`). */
export function referenceKey(ref: string, baseUrl?: string): string | undefined {
  let r = ref;
  if (baseUrl && r.startsWith(`${baseUrl}/`)) r = r.slice(baseUrl.length + 1);
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/\d+)?$/.exec(r);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

function tokenRow(code: string, system: unknown, value: unknown): IndexRow {
  return { param: code, system: typeof system === 'string' ? system : null, value: String(value), low: null, high: null };
}

function tokenRows(code: string, v: unknown): IndexRow[] {
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return [tokenRow(code, null, v)];
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.coding)) return o.coding.filter((c) => c?.code !== undefined).map((c) => tokenRow(code, c.system, c.code));
  if (o.code !== undefined) return [tokenRow(code, o.system, o.code)];
  if (o.value !== undefined) return [tokenRow(code, o.system, o.value)];
  return [];
}

/** The text beside a token's codes (CodeableConcept.text, Coding.display), for `:text`: indexed as parameter `code:text`. */
function tokenTextRows(code: string, v: unknown): IndexRow[] {
  if (!v || typeof v !== 'object') return [];
  const o = v as { text?: unknown; display?: unknown; coding?: { display?: unknown }[] };
  const texts = [o.text, o.display, ...(Array.isArray(o.coding) ? o.coding.map((c) => c?.display) : [])];
  return texts.filter((t): t is string => typeof t === 'string' && t.trim() !== '')
    .map((t) => ({ param: `${code}:text`, system: null, value: normaliseString(t), low: null, high: null }));
}

function stringRows(code: string, v: unknown): IndexRow[] {
  const texts: string[] = [];
  if (typeof v === 'string') texts.push(v);
  else if (v && typeof v === 'object') {
    const n = v as { family?: string; given?: string[]; prefix?: string[]; text?: string };
    if (n.family) texts.push(n.family);
    texts.push(...(n.given ?? []), ...(n.prefix ?? []));
    if (n.text) texts.push(n.text);
  }
  return texts.filter((t) => typeof t === 'string').map((t) => ({ param: code, system: null, value: normaliseString(t), low: null, high: null }));
}

function dateRows(code: string, v: unknown): IndexRow[] {
  if (typeof v === 'string') {
    const r = dateRange(v);
    return r ? [{ param: code, system: null, value: null, low: r.low, high: r.high }] : [];
  }
  const period = v as { start?: string; end?: string };
  const low = period.start ? dateRange(period.start)?.low : '0000-01-01T00:00:00.000Z';
  const high = period.end ? dateRange(period.end)?.high : '9999-12-31T23:59:59.999Z';
  return low && high && (period.start || period.end) ? [{ param: code, system: null, value: null, low, high }] : [];
}

/**
 * The index rows of a resource: one per distinct value of each search parameter `params` holds for its type.
 * https://hl7.org/fhir/R4/search.html#table
 */
export function extractIndex(resource: Resource, params: SearchParameterRegistry, baseUrl?: string): IndexRow[] {
  const rows: IndexRow[] = [];
  for (const def of params.paramsOf(resource.resourceType)) {
    for (const path of def.paths) {
      for (const v of valuesAt(resource, path)) {
        if (def.type === 'token') {
          for (const r of tokenRows(def.code, v)) rows.push(r);
          for (const r of tokenTextRows(def.code, v)) rows.push(r);
        } else if (def.type === 'string') for (const r of stringRows(def.code, v)) rows.push(r);
        else if (def.type === 'date') for (const r of dateRows(def.code, v)) rows.push(r);
        else {
          const ref = typeof v === 'object' && v ? (v as { reference?: string }).reference : undefined;
          const key = ref ? referenceKey(ref, baseUrl) : undefined;
          if (key && (!def.targets || def.targets.includes(key.split('/')[0]))) rows.push({ param: def.code, system: key.split('/')[0], value: key, low: null, high: null });
        }
      }
    }
  }
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = `${r.param}\u0000${r.system}\u0000${r.value}\u0000${r.low}\u0000${r.high}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
