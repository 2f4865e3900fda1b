/**
 * Which EHRs may launch the clinician app: ESO_APP_EHRS_FILE, written by the operator and other tools,
 * {"ehrs": [{"iss", "client_id", "auth": "private_key_jwt" | "client_secret_basic" | "none", "client_secret"?, "organization"}]}.
 * Re-read when it changes (looked at no more than once a second); a file that does not parse keeps the previous list.
 */
import * as z from 'zod';
import { ODS_CODE_RE } from '../auth/client-file.ts';
import { fileStamp, readJsonFile } from '../auth/json-file.ts';
import type { Logger } from '../shared/logger.ts';

export interface EhrEntry {
  /** The EHR's FHIR base URL: the `iss` of its launches (no trailing slash). */
  iss: string;
  clientId: string;
  auth: 'private_key_jwt' | 'client_secret_basic' | 'none';
  clientSecret?: string;
  /** ODS code of the organisation the EHR's users act for. */
  organization: string;
}

const entry = z.looseObject({
  iss: z.string().url(),
  client_id: z.string().min(1).max(200),
  auth: z.enum(['private_key_jwt', 'client_secret_basic', 'none']),
  client_secret: z.string().min(1).optional(),
  organization: z.string().regex(ODS_CODE_RE, 'organization must be an ODS code (A-Z, 0-9)'),
}).refine((e) => e.auth !== 'client_secret_basic' || !!e.client_secret, { message: 'client_secret_basic needs client_secret', path: ['client_secret'] });

const fileSchema = z.looseObject({ ehrs: z.array(entry) });

/** Without the trailing slash: the same EHR whichever way its base URL is written. */
export const normaliseIss = (iss: string): string => iss.replace(/\/+$/, '');

/** Parses the file's JSON; throws an Error naming every problem. */
export function parseEhrsFile(json: unknown): EhrEntry[] {
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) throw new Error(`Invalid EHRs file: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);
  return parsed.data.ehrs.map((e) => ({ iss: normaliseIss(e.iss), clientId: e.client_id, auth: e.auth, organization: e.organization,
    ...(e.client_secret ? { clientSecret: e.client_secret } : {}) }));
}

export class EhrRegistry {
  private ehrs = new Map<string, EhrEntry>();
  private stamp: string | undefined;
  private checkedAt = 0;

  constructor(readonly file: string | undefined, private readonly log: Logger, private readonly recheckMs = 1000) {}

  /** The EHR whose FHIR base is `iss`, after a (rate-limited) look at the file. */
  async find(iss: string): Promise<EhrEntry | undefined> {
    await this.refresh();
    return this.ehrs.get(normaliseIss(iss));
  }

  private async refresh(): Promise<void> {
    if (!this.file || Date.now() - this.checkedAt < this.recheckMs) return;
    this.checkedAt = Date.now();
    try {
      const stamp = await fileStamp(this.file);
      if (stamp === this.stamp) return;
      const list = stamp === undefined ? [] : parseEhrsFile(await readJsonFile(this.file));
      this.ehrs = new Map(list.map((e) => [e.iss, e]));
      this.stamp = stamp;
      this.log.info({ file: this.file, ehrs: list.length }, 'EHRs file loaded');
    } catch (e) {
      this.log.error({ file: this.file, err: (e as Error).message }, 'EHRs file not loaded: keeping the previous list');
    }
  }
}
