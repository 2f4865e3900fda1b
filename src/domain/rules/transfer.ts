/**
 * Transfer of care is never implied (docs/DESIGN.md "The process" 7; GOSH: "even if this is offered,
 * it needs the clinical team's agreement and your/your child's consent"). An offer is its own
 * Task: code transfer-offer (eso CodeSystem), partOf = the ESO Task, requester = the provider
 * that offers, owner = the treating organisation that decides. It moves through the same status
 * table; `accepted` needs three inputs: the provider's agreement, the treating team's agreement
 * and the family's consent. It never touches the ESO Task or the Patient.
 */
import type { Task, TaskInput } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { conflict, forbidden, unprocessable } from '../../shared/outcomes.ts';
import { isTransferOffer } from '../case.ts';
import { fieldProblem } from '../task-fields.ts';
import { checkTransition, type Side } from '../task-states.ts';
import { taskContext } from './task.ts';

/** The agreements an offer needs (Task.input.type.text), and which side of the offer records each. */
export const TRANSFER_INPUTS: Readonly<Record<string, Side>> = {
  // On the offer Task the provider is the requester, the treating organisation the owner.
  'provider-agreement': 'requester',
  'treating-team-agreement': 'provider',
  'family-consent': 'provider',
};

const inputKey = (i: TaskInput) => i.type?.text ?? i.type?.coding?.[0]?.code ?? '';

/** True when the input records a yes: valueBoolean true, or a reference (e.g. to a Consent). */
export function agreed(task: Task, key: string): boolean {
  return (task.input ?? []).some((i) => inputKey(i) === key && (i.valueBoolean === true || !!i.valueReference?.reference));
}

/** The agreements still missing for an offer to be accepted. */
export function missingAgreements(task: Task): string[] {
  return Object.keys(TRANSFER_INPUTS).filter((k) => !agreed(task, k));
}

function inputsChangedBy(prev: Task, next: Task): string[] {
  const keys = new Set([...(prev.input ?? []), ...(next.input ?? [])].map(inputKey));
  const pick = (t: Task, k: string) => JSON.stringify((t.input ?? []).filter((i) => inputKey(i) === k));
  return [...keys].filter((k) => pick(prev, k) !== pick(next, k));
}

export async function checkTransferOfferWrite(next: Task, previous: Task | undefined, repo: Repository): Promise<void> {
  const ctx = await taskContext(next, repo);
  const esoTask = await ctx.reader.ref<Task>(next.partOf?.[0]);
  if (esoTask?.resourceType !== 'Task' || isTransferOffer(esoTask)) {
    throw unprocessable('A transfer offer is partOf the ESO Task it arises from', 'Task.partOf');
  }
  const eso = await taskContext(esoTask, repo);
  if (ctx.requester.id !== eso.owner.id || ctx.owner.id !== eso.requester.id || ctx.sr.id !== eso.sr.id) {
    throw unprocessable('A transfer offer goes from the ESO provider (Task.requester) to the treating organisation (Task.owner), about the same request', 'Task.owner');
  }
  const side = ctx.side === 'none' ? undefined : ctx.side;
  if (!previous) {
    if (next.status !== 'requested') throw unprocessable(`A new transfer offer starts as 'requested', not '${next.status}'`, 'Task.status');
    if (!['accepted', 'in-progress', 'on-hold', 'completed'].includes(esoTask.status)) {
      throw unprocessable(`Only a provider that has accepted the ESO can offer a transfer (the ESO Task is '${esoTask.status}')`, 'Task.partOf');
    }
    if (ctx.side === 'none' || ctx.side === 'provider') throw forbidden('Only the ESO provider may offer a transfer of care');
    for (const k of inputsChangedBy({ ...next, input: [] }, next)) {
      if (TRANSFER_INPUTS[k] !== 'requester') throw unprocessable(`A new offer carries only the provider's own agreement, not '${k}'`, 'Task.input');
    }
  } else {
    if (ctx.side === 'none') throw forbidden('Only the two organisations of the case may change a transfer offer');
    // Inputs are checked one agreement at a time below, so compare the rest without them.
    const problem = fieldProblem({ ...previous, input: undefined }, { ...next, input: undefined }, side);
    if (problem?.kind === 'immutable') throw unprocessable(problem.message, `Task.${problem.field}`);
    if (problem) throw forbidden(problem.message);
    for (const k of inputsChangedBy(previous, next)) {
      const by = TRANSFER_INPUTS[k];
      if (!by) throw unprocessable(`Unknown transfer input '${k}': expected ${Object.keys(TRANSFER_INPUTS).join(', ')}`, 'Task.input');
      if (side && side !== by) throw forbidden(`'${k}' is recorded by the ${by === 'requester' ? 'offering provider' : 'treating organisation'}`);
    }
    if (previous.status !== next.status) {
      const check = checkTransition(previous.status, next.status, side);
      if (!check.ok && check.reason === 'invalid') throw conflict(`The transfer offer is '${previous.status}' and cannot move to '${next.status}'`, 'Task.status');
      if (!check.ok) throw forbidden(`That move of the transfer offer is for the ${check.by === 'provider' ? 'treating organisation' : 'offering provider'}`);
      const missing = missingAgreements(next);
      if (next.status === 'accepted' && missing.length) {
        throw unprocessable(`A transfer of care needs both teams' agreement and the family's consent; missing: ${missing.join(', ')}`, 'Task.input');
      }
    }
  }
  next.lastModified = new Date().toISOString();
}
