/**
 * Organisations as the ESO rules see them: by ODS code, up their partOf chain to the Trust or
 * Health Board, and as the organisation behind a PractitionerRole.
 * docs/DESIGN.md "FHIR R4 mapping": Organization, ODS code, partOf up to the Trust/Health Board.
 */
import type { Organization, PractitionerRole, Reference } from 'fhir/r4.js';
import { countryKind, odsCodeOf } from '../fhir/uk-core.ts';
import { Systems } from './codes.ts';
import type { Reader } from './reader.ts';

/** partOf chains longer than this are treated as broken data (and cycles stop here too). */
const MAX_DEPTH = 12;

/** The Organization with this ODS code, if the directory has one. */
export async function orgByOds(reader: Reader, ods: string): Promise<Organization | undefined> {
  const found = await reader.search<Organization>('Organization', { identifier: `${Systems.odsCode}|${ods}` });
  return found[0];
}

/**
 * The organisation a reference stands for: an Organization itself, or a PractitionerRole's
 * organization. Practitioners, patients and the rest have none.
 */
export async function orgOfRef(reader: Reader, ref: Reference | undefined): Promise<Organization | undefined> {
  const key = reader.key(ref);
  if (!key) return undefined;
  if (key.startsWith('Organization/')) return reader.byKey<Organization>(key);
  if (key.startsWith('PractitionerRole/')) {
    const role = await reader.byKey<PractitionerRole>(key);
    return role ? reader.ref<Organization>(role.organization) : undefined;
  }
  return undefined;
}

/** The organisation and its parents, nearest first, ending at the top (Trust or Health Board). */
export async function chainOf(reader: Reader, org: Organization): Promise<Organization[]> {
  const chain = [org];
  const seen = new Set([org.id]);
  let current = org;
  while (current.partOf && chain.length < MAX_DEPTH) {
    const parent = await reader.ref<Organization>(current.partOf);
    if (!parent || seen.has(parent.id)) break;
    chain.push(parent);
    seen.add(parent.id);
    current = parent;
  }
  return chain;
}

/** The top of the partOf chain: the Trust or Health Board the organisation belongs to. */
export async function topLevelOf(reader: Reader, org: Organization): Promise<Organization> {
  const chain = await chainOf(reader, org);
  return chain[chain.length - 1];
}

/** The ODS codes of the organisation and its parents. */
export async function chainOds(reader: Reader, org: Organization): Promise<string[]> {
  return (await chainOf(reader, org)).map(odsCodeOf).filter((c): c is string => !!c);
}

/**
 * True when `actorOds` may act for `org`: it is the organisation itself or one of its parents
 * (a Trust's client acts for its sites and teams; a team does not act for its Trust).
 */
export async function actsFor(reader: Reader, actorOds: string, org: Organization | undefined): Promise<boolean> {
  if (!org) return false;
  return (await chainOds(reader, org)).includes(actorOds);
}

/**
 * 'elsewhere' when the organisation (or, failing an address, the nearest parent with one)
 * states a country outside the UK; 'uk' or undefined otherwise.
 */
export async function countryOf(reader: Reader, org: Organization): Promise<'uk' | 'elsewhere' | undefined> {
  for (const o of await chainOf(reader, org)) {
    const kind = countryKind(o.address);
    if (kind) return kind;
  }
  return undefined;
}

/** A short name for messages: the Organization's name, else its ODS code. */
export function orgLabel(org: Organization | undefined): string {
  if (!org) return 'an unknown organisation';
  return org.name ?? (odsCodeOf(org) ? `organisation ${odsCodeOf(org)}` : `Organization/${org.id}`);
}
