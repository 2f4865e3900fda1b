/**
 * The providers a requesting organisation may choose, for a form that shows the independence rule before
 * anything is sent: each organisation of the directory, asked of the rule itself (rules/independence.ts),
 * so a provider in the same Trust or Health Board is shown as not choosable with the rule's own words, and
 * one outside the UK is flagged (it will have to state where law or ethics differ before accepting).
 */
import type { Organization } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import { odsCodeOf } from '../fhir/uk-core.ts';
import { isOutcomeError } from '../shared/outcomes.ts';
import { countryOf, orgByOds, orgLabel } from './organization-tree.ts';
import { Reader } from './reader.ts';
import { assertIndependent } from './rules/independence.ts';

export interface ProviderChoice {
  ods: string;
  name: string;
  /** False when the independence rule refuses it; `why` says so in the rule's words. */
  allowed: boolean;
  why?: string;
  overseas: boolean;
}

export async function providerChoices(repo: Repository, requesterOds: string): Promise<ProviderChoice[]> {
  const reader = Reader.ofSystem(repo);
  const requester = await orgByOds(reader, requesterOds);
  if (!requester) return [];
  const out: ProviderChoice[] = [];
  for (const org of await reader.search<Organization>('Organization', {})) {
    const ods = odsCodeOf(org);
    if (!ods) continue;
    let why: string | undefined;
    try {
      await assertIndependent(reader, requester, org, 'provider.organization');
    } catch (e) {
      if (!isOutcomeError(e)) throw e;
      why = e.outcome.issue?.[0]?.diagnostics;
    }
    out.push({ ods, name: orgLabel(org), allowed: !why, ...(why ? { why } : {}), overseas: (await countryOf(reader, org)) === 'elsewhere' });
  }
  return out.sort((a, b) => Number(b.allowed) - Number(a.allowed) || a.name.localeCompare(b.name));
}
