/**
 * The app's server-side sessions: the EHR's access token and who is signed in stay here, the browser only
 * holds a random session id in an HttpOnly, SameSite=Lax cookie (Secure unless the app is served on
 * loopback). Sessions end after an idle time or at sign-out. Kept in this process: run several instances
 * behind sticky sessions (docs/CLINICIAN-APP.md).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clinician } from '../shared/call-context.ts';
import type { EhrEntry } from './ehr-registry.ts';
import type { PendingLaunch } from './smart-client.ts';

/** The child in the EHR's context, as the EHR's Patient says. */
export interface EhrPatient {
  /** The EHR's Patient id (launch context). */
  id: string;
  /** NHS number, when the EHR's Patient carries a valid one. */
  nhsNumber?: string;
  given?: string;
  family?: string;
  birthDate?: string;
  gender?: string;
}

export interface AppSession {
  id: string;
  csrf: string;
  ehr: EhrEntry;
  /** The EHR's access token: used server-side for the EHR's FHIR API, never sent to the browser. */
  accessToken: string;
  clinician: Clinician;
  /** The name of the organisation the EHR's users act for, as the directory has it. */
  organizationName: string;
  patient?: EhrPatient;
  lastSeen: number;
}

export const SESSION_COOKIE = 'eso_app';
export const LAUNCH_COOKIE = 'eso_app_launch';
const LAUNCH_TTL_MS = 10 * 60_000;
const MAX_PENDING = 10_000;

const random = () => randomBytes(32).toString('base64url');

/** Compares two secrets in constant time (different lengths are simply unequal). */
export function sameSecret(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  private sessions = new Map<string, AppSession>();
  private pending = new Map<string, PendingLaunch>();

  constructor(private readonly idleMs: number, private readonly now: () => number = Date.now) {}

  /** Keeps a launch until the EHR sends the browser back (10 minutes at most). */
  addPending(p: PendingLaunch): void {
    this.sweep();
    if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value as string);
    this.pending.set(p.state, p);
  }

  /** The launch of this `state`, once only, if it was started in this browser (its launch cookie) and is recent. */
  takePending(state: string | undefined, browserKey: string | undefined): PendingLaunch | undefined {
    if (!state) return undefined;
    const p = this.pending.get(state);
    if (!p || !sameSecret(p.browserKey, browserKey)) return undefined;
    this.pending.delete(state);
    return this.now() - p.createdAt <= LAUNCH_TTL_MS ? p : undefined;
  }

  create(s: Omit<AppSession, 'id' | 'csrf' | 'lastSeen'>): AppSession {
    this.sweep();
    const session: AppSession = { ...s, id: random(), csrf: random(), lastSeen: this.now() };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The session of this id if it has not been idle too long; each use restarts the idle clock. */
  touch(id: string | undefined): AppSession | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (this.now() - s.lastSeen > this.idleMs) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeen = this.now();
    return s;
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, s] of this.sessions) if (t - s.lastSeen > this.idleMs) this.sessions.delete(k);
    for (const [k, p] of this.pending) if (t - p.createdAt > LAUNCH_TTL_MS) this.pending.delete(k);
  }
}

/** Cookie values by name from a Cookie header. */
export function cookiesOf(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** A Set-Cookie value: HttpOnly, SameSite=Lax, sent to /app only, Secure unless served on loopback over http. */
export function cookie(name: string, value: string, opts: { secure: boolean; maxAgeSeconds?: number }): string {
  const parts = [`${name}=${value}`, 'Path=/app', 'HttpOnly', 'SameSite=Lax'];
  if (opts.secure) parts.push('Secure');
  if (opts.maxAgeSeconds !== undefined) parts.push(`Max-Age=${opts.maxAgeSeconds}`);
  return parts.join('; ');
}
