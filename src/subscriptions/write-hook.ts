/**
 * The rules of a Subscription write. A client (acting for its organisation) creates a Subscription
 * as `requested`, and may later set it to `requested` (re-activate: a new handshake) or `off`;
 * `active` and `error`, the error text and the failure count are the server's to write. Every
 * client write but switching off is checked (settings.ts) against the organisation's endpoint allow-list. After a
 * client write that asks for a handshake, one is queued in the same transaction.
 */
import type { Subscription } from 'fhir/r4.js';
import { actorOfRepo } from '../domain/case.ts';
import type { WriteHook } from '../fhir/repository.ts';
import { unprocessable } from '../shared/outcomes.ts';
import { controlDestination } from './events.ts';
import type { ControlRecord } from './sender.ts';
import { EXT, readSettings } from './settings.ts';

const CLIENT_STATUSES = new Set<Subscription['status']>(['requested', 'off']);

export function subscriptionWriteHook(allowedOrigins: Map<string, string[]>): WriteHook {
  return {
    async beforeWrite(next, previous, repo) {
      if (next.resourceType !== 'Subscription') return;
      const actor = actorOfRepo(repo);
      if (!actor) return; // the server's own status writes
      const sub = next as Subscription;
      const before = previous?.resource as Subscription | undefined;
      if (!CLIENT_STATUSES.has(sub.status) && sub.status !== before?.status) {
        throw unprocessable(`A subscriber sets status to requested (to (re)activate) or off; '${sub.status}' is set by the server`, 'Subscription.status');
      }
      // Switching off is never refused for the endpoint's origin (nothing is sent while off); re-activating is asked again.
      readSettings(sub, sub.status === 'off' ? undefined : actor.organization, allowedOrigins);
      // What the server keeps about deliveries is not the client's to write: kept as it was, reset on re-activation.
      const reset = sub.status === 'requested';
      sub.extension = [...(sub.extension ?? []).filter((e) => e.url !== EXT.failures),
        ...(!reset ? (before?.extension ?? []).filter((e) => e.url === EXT.failures) : [])];
      if (!sub.extension.length) delete sub.extension;
      if (reset || !before?.error) delete sub.error;
      else sub.error = before.error;
    },
    async afterWrite(stored, _previous, repo, tx) {
      if (stored.resource.resourceType !== 'Subscription' || !actorOfRepo(repo)) return;
      if ((stored.resource as Subscription).status !== 'requested') return;
      const control: ControlRecord = { subscription: stored.resource.id as string, type: 'handshake' };
      await tx.enqueueOutbound(controlDestination(control.subscription), 'subscription-handshake', JSON.stringify(control));
    },
  };
}
