/**
 * The subscription topics this server publishes (Subscriptions R5 Backport IG 1.1, topics named by
 * canonical URL; R4 has no SubscriptionTopic resource, so they are listed in the CapabilityStatement).
 * https://hl7.org/fhir/uv/subscriptions-backport/STU1.1/topics.html
 */
import type { Resource } from 'fhir/r4.js';

export const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport';
export const TOPIC_BASE = 'https://fhir.eso-bridge.nhs.uk/SubscriptionTopic';

export interface Topic {
  url: string;
  /** The resource type a notification's focus is. */
  resourceType: 'Task' | 'DiagnosticReport' | 'Consent';
  description: string;
  /** Filter parameters a subscriber may use (search parameters of `resourceType`, value compared as the search index holds it). */
  filters: readonly string[];
  /** Whether this write (with the version before it, if any) is an event of the topic. */
  triggers(next: Resource, previous: Resource | undefined): boolean;
}

const statusOf = (r: Resource | undefined): string | undefined => (r as { status?: string } | undefined)?.status;

export const TOPICS: readonly Topic[] = [
  {
    url: `${TOPIC_BASE}/task-status`,
    resourceType: 'Task',
    description: 'A Task of a case changes status (created, received, accepted, rejected, in progress, completed, cancelled, ...).',
    filters: ['owner', 'requester', 'status', 'business-status'],
    triggers: (next, previous) => next.resourceType === 'Task' && statusOf(next) !== statusOf(previous),
  },
  {
    url: `${TOPIC_BASE}/report-issued`,
    resourceType: 'DiagnosticReport',
    description: 'A report is issued for a case (the DiagnosticReport becomes final, or is amended or corrected).',
    filters: ['status', 'based-on'],
    triggers: (next, previous) => next.resourceType === 'DiagnosticReport' && ['final', 'amended', 'corrected'].includes(statusOf(next) ?? '')
      && statusOf(next) !== statusOf(previous),
  },
  {
    url: `${TOPIC_BASE}/consent-change`,
    resourceType: 'Consent',
    description: 'A Consent of a case is given or changes (withdrawn, period changed, ...).',
    filters: ['status', 'actor'],
    triggers: (next) => next.resourceType === 'Consent',
  },
];

export const topicByUrl = (url: string | undefined): Topic | undefined => TOPICS.find((t) => t.url === url);
