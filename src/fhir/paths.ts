/** Minimal path evaluation over FHIR JSON: dotted element names, arrays flattened. */

// Paths come from the search parameters (a fixed set): each is split once. Bounded all the same.
const splitPaths = new Map<string, readonly string[]>();
const MAX_SPLIT_PATHS = 1000;
function namesOf(path: string): readonly string[] {
  let names = splitPaths.get(path);
  if (!names) {
    names = path.split('.');
    if (splitPaths.size < MAX_SPLIT_PATHS) splitPaths.set(path, names);
  }
  return names;
}

/** Values at `path` (e.g. "restriction.period.end") under `root`, arrays flattened. */
export function valuesAt(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const name of namesOf(path)) {
    const next: unknown[] = [];
    for (const item of current) {
      if (item === null || typeof item !== 'object' || !Object.hasOwn(item, name)) continue;
      const v = (item as Record<string, unknown>)[name];
      if (Array.isArray(v)) next.push(...v);
      else if (v !== undefined && v !== null) next.push(v);
    }
    current = next;
  }
  return current;
}
