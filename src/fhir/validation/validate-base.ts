/**
 * Structural validation of FHIR R4 JSON against the base element table
 * (https://hl7.org/fhir/R4/json.html, https://hl7.org/fhir/R4/elementdefinition.html).
 * Walks only own properties that are known elements, so hostile input (prototype keys,
 * deep nesting, huge arrays) produces issues, never a crash.
 */
import { type BaseTable, type ChildElement, type CountedElement, defaultBaseTable } from './base-table.ts';
import { FORBIDDEN_KEYS, IssueList, type ValidationIssue, isObject, own, quote } from './issues.ts';
import { checkPrimitive } from './primitives.ts';

const NO_KEYS: ReadonlyMap<string, ChildElement> = new Map();

/** Deeper JSON than this is refused: no FHIR resource in this service needs it, and recursion must stay bounded. */
export const MAX_DEPTH = 64;
/** Longer arrays are refused unread. */
export const MAX_ARRAY = 10_000;

interface Ctx {
  table: BaseTable;
  out: IssueList;
}

/**
 * Validates a resource against base FHIR R4: known resourceType, known elements, cardinality,
 * JSON array rules, choice types, primitive formats and simple required bindings.
 * Every issue has `source: 'base'`.
 */
export function validateBase(resource: unknown, table: BaseTable = defaultBaseTable()): ValidationIssue[] {
  const ctx: Ctx = { table, out: new IssueList('base') };
  const rt = isObject(resource) ? own(resource, 'resourceType') : undefined;
  const root = typeof rt === 'string' && table.resourceTypes.has(rt) ? rt : 'Resource';
  validateResourceNode(ctx, resource, root, 0);
  return ctx.out.issues;
}

function validateResourceNode(ctx: Ctx, value: unknown, expr: string, depth: number, contained = false): void {
  if (!isObject(value)) {
    ctx.out.error('structure', expr, 'A resource must be a JSON object');
    return;
  }
  const rt = own(value, 'resourceType');
  if (typeof rt !== 'string') {
    ctx.out.error('required', expr, 'The resource has no resourceType');
    return;
  }
  if (!ctx.table.resourceTypes.has(rt)) {
    ctx.out.error('not-supported', expr, `Resource type ${quote(rt)} is not supported`);
    return;
  }
  // dom-2 (https://hl7.org/fhir/R4/domainresource.html#invs): contained resources do not nest.
  if (contained && own(value, 'contained') !== undefined) {
    ctx.out.error('invariant', `${expr}.contained`, 'A contained resource must not contain resources (dom-2)');
    return;
  }
  walkObject(ctx, value, rt, '', expr, depth, true);
}

/** Validates the properties of one object whose element definitions live at `parentPath` in `typeName`. */
function walkObject(
  ctx: Ctx, obj: Record<string, unknown>, typeName: string, parentPath: string, expr: string, depth: number,
  isResource = false,
): void {
  if (depth > MAX_DEPTH) {
    ctx.out.error('structure', expr, `Nesting deeper than ${MAX_DEPTH} levels`);
    return;
  }
  const info = ctx.table.types.get(typeName);
  if (!info) return;
  const keys = info.keys.get(parentPath) ?? NO_KEYS;
  const props = Object.keys(obj);
  if (props.length === 0) {
    ctx.out.error('structure', expr, 'Empty object (FHIR JSON forbids empty elements)');
    return;
  }
  // Made only for an object that has a choice element (most have none).
  let choices: Map<string, string> | undefined;
  for (const key of props) {
    if (ctx.out.full) return;
    if (isResource && key === 'resourceType') continue;
    const isExt = key.startsWith('_');
    const name = isExt ? key.slice(1) : key;
    const child = FORBIDDEN_KEYS.has(key) ? undefined : keys.get(name);
    if (!child || (isExt && !child.primitive)) {
      ctx.out.error('structure', `${expr}.${key}`, `Unknown element ${quote(key)} in ${parentPath ? `${typeName}.${parentPath}` : typeName}`);
      continue;
    }
    if (child.name.endsWith('[x]')) {
      choices ??= new Map<string, string>();
      const seen = choices.get(child.name);
      if (seen !== undefined && seen !== name) {
        ctx.out.error('structure', `${expr}.${key}`, `Only one of ${child.name} is allowed (found ${seen} and ${name})`);
        continue;
      }
      choices.set(child.name, name);
    }
    const node = { ctx, child, key: name, typeName, expr: `${expr}.${name}`, depth };
    if (isExt) walkPrimitiveExtension(node, obj[key], own(obj, name));
    else walkProperty(node, obj[key], own(obj, child.extKey));
  }
  checkCardinality(ctx, obj, info.counted.get(parentPath), expr);
  if (typeName === 'Extension' && parentPath === '') checkExtensionValue(ctx, obj, keys, expr);
}

interface Node {
  ctx: Ctx;
  child: ChildElement;
  /** The JSON property name (`valueString` for `value[x]`), used in messages. */
  key: string;
  /** Type whose table holds `child.path` (for BackboneElements and contentReferences). */
  typeName: string;
  expr: string;
  depth: number;
}

/** Applies the JSON array rules, then validates each value. `ext` is the `_name` sibling, if any. */
function walkProperty(node: Node, value: unknown, ext: unknown): void {
  const { ctx, child, expr } = node;
  if (value === null) {
    ctx.out.error('structure', expr, 'null is not allowed (omit the element instead)');
    return;
  }
  if (!Array.isArray(value)) {
    if (child.repeats) ctx.out.error('structure', expr, `${child.name} repeats (max ${child.def.max}): it must be a JSON array`);
    walkValue(node, value, expr);
    return;
  }
  if (!child.repeats) {
    ctx.out.error('structure', expr, `${child.name} does not repeat (max ${child.def.max}): it must not be an array`);
    return;
  }
  if (!checkArraySize(ctx, value, expr)) return;
  const extItems = Array.isArray(ext) ? ext : undefined;
  if (extItems && extItems.length !== value.length) {
    ctx.out.error('structure', expr, `_${child.name} must have the same length as ${child.name}`);
  }
  for (let i = 0; i < value.length && !ctx.out.full; i++) {
    const item: unknown = value[i];
    // A null is allowed only as a placeholder for a value that has just extensions in `_name`.
    if (item === null) {
      if (!isObject(extItems?.[i])) ctx.out.error('structure', `${expr}[${i}]`, 'null is not allowed in an array here');
      continue;
    }
    walkValue(node, item, `${expr}[${i}]`);
  }
}

function checkArraySize(ctx: Ctx, value: unknown[], expr: string): boolean {
  if (value.length === 0) {
    ctx.out.error('structure', expr, 'Empty array (FHIR JSON forbids empty elements)');
    return false;
  }
  if (value.length > MAX_ARRAY) {
    ctx.out.error('structure', expr, `Array longer than ${MAX_ARRAY} entries`);
    return false;
  }
  return true;
}

/** `_name`: the id and extensions of a primitive, `{id?, extension?}` (an array of them, nulls allowed, when it repeats). */
function walkPrimitiveExtension(node: Node, ext: unknown, value: unknown): void {
  const { ctx, child, expr, depth } = node;
  const shape = `_${child.name} must hold {id?, extension?}`;
  if (Array.isArray(ext)) {
    if (!child.repeats) {
      ctx.out.error('structure', expr, `_${child.name} does not repeat: it must not be an array`);
      return;
    }
    if (!checkArraySize(ctx, ext, expr)) return;
    ext.forEach((item: unknown, i) => {
      if (item === null) {
        if (!Array.isArray(value) || value[i] === null || value[i] === undefined) {
          ctx.out.error('structure', `${expr}[${i}]`, 'null in both the value and its _ sibling');
        }
      } else if (isObject(item)) {
        walkObject(ctx, item, 'Element', '', `${expr}[${i}]`, depth + 1);
      } else {
        ctx.out.error('structure', `${expr}[${i}]`, shape);
      }
    });
    return;
  }
  if (!isObject(ext)) {
    ctx.out.error('structure', expr, shape);
    return;
  }
  if (child.repeats) ctx.out.error('structure', expr, `_${child.name} repeats: it must be a JSON array`);
  walkObject(ctx, ext, 'Element', '', expr, depth + 1);
}

/** Validates one (non-array) value of an element, recursing into complex types. */
function walkValue(node: Node, value: unknown, expr: string): void {
  const { ctx, child, key, typeName, depth } = node;
  if (child.def.ref) {
    if (isObject(value)) walkObject(ctx, value, typeName, child.def.ref, expr, depth + 1);
    else ctx.out.error('structure', expr, 'Must be a JSON object');
    return;
  }
  const type = child.type ?? '';
  if (child.primitive) {
    const problem = checkPrimitive(type, value);
    if (problem) ctx.out.error('value', expr, `${key} ${problem}`);
    else checkBinding(ctx, child, value, expr);
    return;
  }
  if (type === 'Resource') {
    validateResourceNode(ctx, value, expr, depth + 1, child.name === 'contained');
    return;
  }
  if (!isObject(value)) {
    ctx.out.error('structure', expr, `${key} must be a JSON object (${type})`);
    return;
  }
  const owner = ctx.table.types.get(typeName);
  if ((type === 'BackboneElement' || type === 'Element') && owner?.keys.has(child.path)) {
    walkObject(ctx, value, typeName, child.path, expr, depth + 1);
  } else {
    walkObject(ctx, value, type, '', expr, depth + 1);
    checkBinding(ctx, child, value, expr);
  }
}

function checkCardinality(ctx: Ctx, obj: Record<string, unknown>, elements: CountedElement[] | undefined, expr: string): void {
  for (const { name, def, keys, extKeys } of elements ?? []) {
    let count = 0;
    for (let i = 0; i < keys.length; i++) {
      const v = own(obj, keys[i]) ?? own(obj, extKeys[i]);
      if (v !== undefined) count += Array.isArray(v) ? v.length : 1;
    }
    if (count < def.min) {
      ctx.out.error('required', `${expr}.${name}`, `Missing required element ${name} (min ${def.min})`);
    } else if (def.max !== '*' && def.max !== '1' && count > Number(def.max)) {
      // max 1 is broken only by an array or two choice keys, both reported where they are found.
      ctx.out.error('structure', `${expr}.${name}`, `Too many ${name} (max ${def.max}, found ${count})`);
    }
  }
}

/** ext-1 (https://hl7.org/fhir/R4/extensibility.html#ext-1): either nested extensions or a value[x], not both. */
function checkExtensionValue(ctx: Ctx, obj: Record<string, unknown>, keys: ReadonlyMap<string, ChildElement>, expr: string): void {
  const hasValue = Object.keys(obj).some((k) => keys.get(k.startsWith('_') ? k.slice(1) : k)?.name === 'value[x]');
  const hasExtensions = own(obj, 'extension') !== undefined;
  if (hasValue === hasExtensions) {
    ctx.out.error('invariant', expr, 'An extension must have either nested extensions or a value[x], not both (ext-1)');
  }
}

/** Required bindings from base R4, where the value set is one of the simple ones in the table. */
function checkBinding(ctx: Ctx, child: ChildElement, value: unknown, expr: string): void {
  const url = child.def.binding;
  const vs = url ? ctx.table.valueSets.get(url) : undefined;
  if (!vs) return;
  if (typeof value === 'string') {
    if (!vs.codes.has(value)) ctx.out.error('code-invalid', expr, `${quote(value)} is not in the required value set ${url}`);
    return;
  }
  if (!isObject(value)) return;
  const codings = child.type === 'Coding' ? [value] : own(value, 'coding');
  const list = Array.isArray(codings) ? codings.filter(isObject) : [];
  const ok = list.some((c) => vs.codings.has(`${String(own(c, 'system'))}|${String(own(c, 'code'))}`));
  if (!ok) ctx.out.error('code-invalid', expr, `No code from the required value set ${url}`);
}
