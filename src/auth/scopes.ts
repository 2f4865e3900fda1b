/**
 * SMART system scopes: v2 `system/<Type|*>.<cruds subset>` and v1 `system/<Type|*>.<read|write|*>`,
 * parsed into one form, intersected, and checked per interaction.
 * https://build.fhir.org/ig/HL7/smart-app-launch/scopes-and-launch-context.html
 */

/** A SMART v2 permission letter: create, read, update, delete, search. */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface SystemScope {
  /** A resource type, or '*' for every type. */
  type: string;
  /** An ordered, non-empty subset of "cruds". */
  perms: string;
}

const ORDER = 'cruds';
const V2 = /^system\/(\*|[A-Z][A-Za-z]{0,63})\.(c?r?u?d?s?)$/;
const V1 = /^system\/(\*|[A-Z][A-Za-z]{0,63})\.(read|write|\*)$/;
const V1_PERMS: Record<string, string> = { read: 'rs', write: 'cud', '*': 'cruds' };

export const MAX_SCOPES = 50;
export const MAX_SCOPE_LENGTH = 128;

/** Parses one scope; undefined for anything that is not a plain system scope (user/, patient/, granular ?query, ...). */
export function parseScope(scope: string): SystemScope | undefined {
  if (scope.length > MAX_SCOPE_LENGTH) return undefined;
  const v2 = V2.exec(scope);
  if (v2 && v2[2].length > 0) return { type: v2[1], perms: v2[2] };
  const v1 = V1.exec(scope);
  if (v1) return { type: v1[1], perms: V1_PERMS[v1[2]] };
  return undefined;
}

/** The v2 form of a scope, e.g. system/Task.rs. */
export function formatScope(s: SystemScope): string {
  return `system/${s.type}.${s.perms}`;
}

/** The letters present in both, in cruds order. */
function commonPerms(a: string, b: string): string {
  return [...ORDER].filter((p) => a.includes(p) && b.includes(p)).join('');
}

function unionPerms(a: string, b: string): string {
  return [...ORDER].filter((p) => a.includes(p) || b.includes(p)).join('');
}

/** What `requested` keeps once limited to `allowed`: one entry per type, permissions merged. */
export function intersectScope(requested: SystemScope, allowed: SystemScope[]): SystemScope[] {
  const byType = new Map<string, string>();
  for (const a of allowed) {
    let type: string | undefined;
    if (requested.type === a.type || a.type === '*') type = requested.type;
    else if (requested.type === '*') type = a.type;
    if (!type) continue;
    const perms = commonPerms(requested.perms, a.perms);
    if (perms) byType.set(type, unionPerms(byType.get(type) ?? '', perms));
  }
  return [...byType].map(([type, perms]) => ({ type, perms }));
}

export interface ScopeGrant {
  /** The `scope` of the token response: a requested scope as written when granted whole, else its v2 part that is granted. */
  granted: string[];
  /** The same grant in v2 form, for the access token and the Principal. */
  scopes: string[];
}

/**
 * The granted scopes: requested ∩ allowed (SMART Backend Services: the server may grant less
 * than asked). Scopes this server does not issue are dropped, not refused.
 */
export function grantScopes(requested: string[], allowed: string[]): ScopeGrant {
  const allowedParsed = allowed.map(parseScope).filter((s): s is SystemScope => s !== undefined);
  const granted = new Set<string>();
  const scopes = new Set<string>();
  for (const raw of requested) {
    const req = parseScope(raw);
    if (!req) continue;
    const parts = intersectScope(req, allowedParsed);
    for (const p of parts) scopes.add(formatScope(p));
    const whole = parts.length === 1 && parts[0].type === req.type && parts[0].perms === req.perms;
    if (whole) granted.add(raw);
    else for (const p of parts) granted.add(formatScope(p));
  }
  return { granted: [...granted], scopes: [...scopes] };
}

/** True when one of `scopes` (v1 or v2) grants `perm` on `type`. */
export function permits(scopes: readonly string[], type: string, perm: Permission): boolean {
  for (const raw of scopes) {
    const s = parseScope(raw);
    if (s && (s.type === '*' || s.type === type) && s.perms.includes(perm)) return true;
  }
  return false;
}

/** Splits a space-delimited scope parameter (RFC 6749 §3.3). */
export function splitScopeParam(scope: string): string[] {
  return scope.split(' ').filter(Boolean);
}
