/**
 * Independence of the provider (docs/DESIGN.md "The process" 4; RCPCH: "the second opinion should
 * come from a separate Trust or Health Board"; GOSH: international providers "must be clear if
 * their opinion involves difference in law or ethical norms").
 */
import type { Organization, Task } from 'fhir/r4.js';
import { unprocessable } from '../../shared/outcomes.ts';
import { extensionsOf, Extensions, part } from '../codes.ts';
import { countryOf, orgLabel, topLevelOf } from '../organization-tree.ts';
import type { Reader } from '../reader.ts';

/**
 * Rule 1: the provider's top-level Trust or Health Board differs from the requester's.
 * Throws 422 with a plain message; `expression` points at the provider element.
 */
export async function assertIndependent(reader: Reader, requester: Organization, provider: Organization, expression: string): Promise<void> {
  const [top1, top2] = [await topLevelOf(reader, requester), await topLevelOf(reader, provider)];
  if (top1.id === top2.id) {
    throw unprocessable(
      `The second opinion must come from a separate Trust or Health Board: ${orgLabel(provider)} and ${orgLabel(requester)} both belong to ${orgLabel(top1)}`,
      expression,
    );
  }
}

/** The provider's independence and no-conflict declaration on a Task, as plain data. */
export function declarationOf(task: Task): { independent: boolean; noConflictOfInterest: boolean } | undefined {
  const ext = extensionsOf(task, Extensions.independenceDeclaration)[0];
  if (!ext) return undefined;
  return {
    independent: part(ext, 'independent')?.valueBoolean === true,
    noConflictOfInterest: part(ext, 'noConflictOfInterest')?.valueBoolean === true,
  };
}

/** The differences in law or ethical norms a provider outside the UK states (trimmed), if any. */
export function legalEthicalDifferencesOf(task: Task): string | undefined {
  const text = extensionsOf(task, Extensions.legalEthicalDifferences)[0]?.valueString?.trim();
  return text ? text : undefined;
}

/**
 * Rule 2: accepting needs the provider's declaration (independent and no conflict of interest);
 * a provider outside the UK also states where law or ethical norms differ.
 */
export async function assertMayAccept(reader: Reader, task: Task, owner: Organization): Promise<void> {
  const d = declarationOf(task);
  if (!d?.independent || !d.noConflictOfInterest) {
    throw unprocessable(
      'Before accepting, the provider must declare that it is independent of the treating team and has no conflict of interest (eso-independence-declaration with independent = true and noConflictOfInterest = true)',
      'Task.extension',
    );
  }
  if ((await countryOf(reader, owner)) === 'elsewhere' && !legalEthicalDifferencesOf(task)) {
    throw unprocessable(
      `${orgLabel(owner)} is outside the UK: before accepting it must state where law or ethical norms differ from the UK (eso-legal-ethical-differences), even if only to say they do not`,
      'Task.extension',
    );
  }
}
