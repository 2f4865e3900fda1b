/**
 * PATCH bodies: JSON Patch (RFC 6902, by fast-json-patch) and FHIRPath Patch (a Parameters
 * resource) with simple paths (`Type.element[n].child`): add, insert, delete, replace, move.
 * Both yield the whole new resource, which then goes through the same update as a PUT.
 * https://hl7.org/fhir/R4/http.html#patch and https://hl7.org/fhir/R4/fhirpatch.html
 */
import jsonPatch, { JsonPatchError, type Operation } from 'fast-json-patch';
import type { Parameters, ParametersParameter, Resource } from 'fhir/r4.js';
import { defaultBaseTable } from '../fhir/validation/base-table.ts';
import { badRequest, unprocessable } from '../shared/outcomes.ts';

export const JSON_PATCH = 'application/json-patch+json';
const MAX_OPERATIONS = 100;

/** Applies an RFC 6902 patch to a copy of `current`. A failed `test` is 422; a malformed patch 400. */
export function applyJsonPatch(current: Resource, body: unknown): Resource {
  if (!Array.isArray(body)) throw badRequest('A JSON Patch body is an array of operations');
  if (body.length > MAX_OPERATIONS) throw badRequest(`A patch may hold at most ${MAX_OPERATIONS} operations`);
  try {
    return jsonPatch.applyPatch(jsonPatch.deepClone(current) as Resource, body as Operation[], true, false, true).newDocument;
  } catch (e) {
    if (e instanceof JsonPatchError && e.name === 'TEST_OPERATION_FAILED') throw unprocessable(`JSON Patch operation ${Number(e.index ?? 0)}: test failed`);
    if (e instanceof JsonPatchError) throw badRequest(`JSON Patch operation ${Number(e.index ?? 0)}: ${e.name}`);
    // fast-json-patch refuses paths through __proto__/constructor with a plain TypeError: a bad request, not a fault.
    if (e instanceof TypeError) throw badRequest('JSON Patch: a path may not go through __proto__, constructor or prototype');
    throw e;
  }
}

interface Step { name: string; index?: number }

/** `Task.note[0].text` -> [{note,0},{text}]; anything beyond names and indexes is refused. */
function parsePath(type: string, path: string): Step[] {
  const m = /^([A-Z][A-Za-z]+)((?:\.[A-Za-z][A-Za-z0-9]*(?:\[\d{1,4}\])?)*)$/.exec(path.trim());
  if (!m || m[1] !== type) throw unprocessable(`FHIRPath Patch: only simple paths such as ${type}.note[0].text are supported, not '${path.slice(0, 100)}'`, 'Parameters.parameter.part.value');
  return m[2].split('.').filter(Boolean).map((s) => {
    const i = /^(\w+)\[(\d+)\]$/.exec(s);
    return i ? { name: i[1], index: Number(i[2]) } : { name: s };
  });
}

/** True when element `names` (below the resource root) repeats, from the base R4 table. */
function repeats(type: string, names: string[]): boolean {
  const table = defaultBaseTable();
  let info = table.types.get(type);
  let parent = '';
  for (let i = 0; i < names.length && info; i++) {
    const child = info.keys.get(parent)?.get(names[i]);
    if (!child) return false;
    if (i === names.length - 1) return child.def.max !== '1';
    const t = child.type;
    if (t && table.types.has(t) && t !== 'BackboneElement') {
      info = table.types.get(t);
      parent = '';
    } else parent = parent ? `${parent}.${child.name}` : child.name;
  }
  return false;
}

type Json = Record<string, unknown>;

/** The object a path leads to (every step must exist). */
function resolve(root: Json, steps: Step[], path: string): Json {
  let at: unknown = root;
  for (const s of steps) {
    at = (at as Json | undefined)?.[s.name];
    if (s.index !== undefined) at = Array.isArray(at) ? at[s.index] : undefined;
    else if (Array.isArray(at)) at = at.length === 1 ? at[0] : undefined;
    if (at === undefined || at === null || typeof at !== 'object') throw unprocessable(`FHIRPath Patch: '${path.slice(0, 100)}' matches nothing`);
  }
  return at as Json;
}

function part(op: ParametersParameter, name: string): ParametersParameter | undefined {
  return op.part?.find((p) => p.name === name);
}
function partString(op: ParametersParameter, name: string): string | undefined {
  const p = part(op, name);
  return p?.valueString ?? p?.valueCode ?? p?.valueUri;
}
function partIndex(op: ParametersParameter, name: string): number {
  const v = part(op, name)?.valueInteger;
  if (typeof v !== 'number' || v < 0) throw badRequest(`FHIRPath Patch: ${name} must be a non-negative integer`);
  return v;
}
function partValue(op: ParametersParameter): unknown {
  const p = part(op, 'value');
  if (!p) throw badRequest('FHIRPath Patch: the operation needs a value');
  if (p.part) throw unprocessable('FHIRPath Patch: values given as parts are not supported; use a value[x] (valueString, valueCodeableConcept, ...)');
  const key = Object.keys(p).find((k) => k.startsWith('value'));
  if (!key) throw badRequest('FHIRPath Patch: the value part has no value[x]');
  return (p as unknown as Record<string, unknown>)[key];
}

/** Applies a FHIRPath Patch Parameters resource to a copy of `current`. */
export function applyFhirPathPatch(current: Resource, body: unknown): Resource {
  const params = body as Parameters;
  if (!params || params.resourceType !== 'Parameters') throw badRequest('A FHIRPath Patch body is a Parameters resource');
  const ops = (params.parameter ?? []).filter((p) => p.name === 'operation');
  if (!ops.length || ops.length !== (params.parameter ?? []).length) throw badRequest('A FHIRPath Patch holds only operation parameters, at least one');
  if (ops.length > MAX_OPERATIONS) throw badRequest(`A patch may hold at most ${MAX_OPERATIONS} operations`);
  const doc = structuredClone(current) as unknown as Json;
  const type = current.resourceType;
  for (const op of ops) {
    const kind = partString(op, 'type');
    const path = partString(op, 'path');
    if (!kind || !path) throw badRequest('FHIRPath Patch: each operation needs a type and a path');
    const steps = parsePath(type, path);
    const names = steps.map((s) => s.name);
    const last = steps[steps.length - 1];
    switch (kind) {
      case 'add': {
        const name = partString(op, 'name');
        if (!name || !/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw badRequest('FHIRPath Patch: add needs the name of the new element');
        const target = resolve(doc, steps, path);
        if (repeats(type, [...names, name])) target[name] = [...(Array.isArray(target[name]) ? target[name] as unknown[] : []), partValue(op)];
        else if (target[name] !== undefined) throw unprocessable(`FHIRPath Patch: ${path}.${name} already has a value (use replace)`);
        else target[name] = partValue(op);
        break;
      }
      case 'insert': case 'move': {
        if (!last || last.index !== undefined) throw unprocessable(`FHIRPath Patch: ${kind} names a list, without an index`);
        const owner = resolve(doc, steps.slice(0, -1), path);
        const list = Array.isArray(owner[last.name]) ? [...owner[last.name] as unknown[]] : [];
        if (kind === 'insert') {
          const at = partIndex(op, 'index');
          if (at > list.length) throw unprocessable(`FHIRPath Patch: index ${at} is beyond the ${list.length} items of ${path}`);
          list.splice(at, 0, partValue(op));
        } else {
          const from = partIndex(op, 'source');
          const to = partIndex(op, 'destination');
          if (from >= list.length || to >= list.length) throw unprocessable(`FHIRPath Patch: ${path} has ${list.length} items`);
          list.splice(to, 0, ...list.splice(from, 1));
        }
        owner[last.name] = list;
        break;
      }
      case 'delete': case 'replace': {
        if (!last) throw unprocessable(`FHIRPath Patch: ${kind} of the whole resource is not a patch`);
        let owner: Json;
        try {
          owner = resolve(doc, steps.slice(0, -1), path);
        } catch (e) {
          if (kind === 'delete') break; // deleting what is not there changes nothing
          throw e;
        }
        const cur = owner[last.name];
        const exists = last.index !== undefined ? Array.isArray(cur) && last.index < cur.length : cur !== undefined;
        if (!exists) {
          if (kind === 'delete') break;
          throw unprocessable(`FHIRPath Patch: '${path.slice(0, 100)}' matches nothing`);
        }
        if (kind === 'replace') {
          if (last.index !== undefined) (cur as unknown[])[last.index] = partValue(op);
          else owner[last.name] = Array.isArray(cur) ? [partValue(op)] : partValue(op);
        } else if (last.index !== undefined) {
          (cur as unknown[]).splice(last.index, 1);
          if (!(cur as unknown[]).length) delete owner[last.name];
        } else delete owner[last.name];
        break;
      }
      default:
        throw unprocessable(`FHIRPath Patch: operation type '${kind.slice(0, 20)}' is not supported (add, insert, delete, replace, move)`);
    }
  }
  return doc as unknown as Resource;
}
