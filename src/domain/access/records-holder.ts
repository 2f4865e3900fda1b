/** Check 5 (write): records about the child are written by the Trust that holds the child's record. */
import type { Binary, Condition, DocumentReference, Organization, ServiceRequest } from 'fhir/r4.js';
import { forbidden, unprocessable } from '../../shared/outcomes.ts';
import { actsFor, orgOfRef } from '../organization-tree.ts';
import { ownChild } from './own-child.ts';
import type { CheckContext, WriteCheck } from './types.ts';

/** Every request a record is attached to must be one the actor made (context.related). */
async function assertOwnRequests(ctx: CheckContext, doc: DocumentReference): Promise<void> {
  for (const [i, ref] of (doc.context?.related ?? []).entries()) {
    const expression = `DocumentReference.context.related[${i}]`;
    const sr = await ctx.reader.ref<ServiceRequest>(ref);
    if (!sr) throw unprocessable(`${ctx.reader.key(ref) ?? 'The reference'} is not known`, expression);
    if (sr.resourceType !== 'ServiceRequest') continue;
    const requester = await orgOfRef(ctx.reader, sr.requester);
    if (!requester || !(await actsFor(ctx.reader, ctx.actor.organization, requester))) {
      throw forbidden('Records are attached to a request by the organisation that made it');
    }
  }
}

async function check(resource: DocumentReference | Condition | Binary, ctx: CheckContext): Promise<void> {
  switch (resource.resourceType) {
    case 'DocumentReference':
      if (resource.subject) await ownChild(ctx, resource.subject, 'DocumentReference.subject', 'A record about the child');
      await assertOwnRequests(ctx, resource);
      return;
    case 'Condition':
      await ownChild(ctx, resource.subject, 'Condition.subject', 'A record about the child');
      return;
    case 'Binary': {
      if (!resource.securityContext) return;
      const doc = await ctx.reader.ref<DocumentReference | Organization>(resource.securityContext);
      if (!doc) throw unprocessable(`${ctx.reader.key(resource.securityContext) ?? 'The reference'} is not known`, 'Binary.securityContext');
      if (doc.resourceType === 'DocumentReference' && doc.subject) await ownChild(ctx, doc.subject, 'Binary.securityContext', 'A record about the child');
      return;
    }
  }
}

export const recordsHolder: WriteCheck = {
  name: 'records-holder',
  rule: 'Records about the child (DocumentReference, its Binary, Condition) are written by the organisation that manages the child\'s record, attached only to its own requests.',
  types: new Set(['DocumentReference', 'Condition', 'Binary']),
  async check(next, previous, ctx) {
    await check(next as DocumentReference | Condition | Binary, ctx);
    if (previous) await check(previous.resource as DocumentReference | Condition | Binary, ctx);
  },
};
