/** Minimal path evaluation over FHIR JSON: dotted element names, arrays flattened. */

/** Values at `path` (e.g. "restriction.period.end") under `root`, arrays flattened. */
export function valuesAt(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const name of path.split('.')) {
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
