/**
 * The acknowledgement must tell the truth about what was stored: AA when the case committed,
 * AE/CE only when nothing was. The intake's AuditEvent is written in the intake's own
 * transaction, so when the audit store refuses (a PostgreSQL trigger here), the whole intake
 * rolls back and the sender gets AE; sent again once the store is back, it gets AA and one case.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { freshSample, msa, sendWithMedplum, startHl7Server, storedCounts, type Hl7Server } from './harness.ts';

const REFUSE_AUDIT = `
CREATE OR REPLACE FUNCTION eso_test_refuse_audit() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit store unavailable (test)';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER eso_test_refuse_audit BEFORE INSERT ON journal FOR EACH ROW EXECUTE FUNCTION eso_test_refuse_audit();`;
const ALLOW_AUDIT = 'DROP TRIGGER IF EXISTS eso_test_refuse_audit ON journal';

describe.skipIf(!backends().includes('postgres'))('HL7 v2 acknowledgement when the audit write fails, on postgres', () => {
  let h: Hl7Server;
  let db: pg.Client;
  beforeAll(async () => {
    h = await startHl7Server('postgres');
    db = new pg.Client({ connectionString: h.server.env.DATABASE_URL });
    await db.connect();
  });
  afterAll(async () => {
    await db?.query(ALLOW_AUDIT).catch(() => undefined);
    await db?.end();
    await h?.stop();
  });

  it('when the intake\'s AuditEvent cannot be written, then nothing is stored and the answer is AE; sent again later, AA and one case', async () => {
    const { text } = freshSample('v251');
    const before = await storedCounts(h.server.storage);
    let ack: string;
    await db.query(REFUSE_AUDIT);
    try {
      ack = await sendWithMedplum(h.mllpPort, text);
    } finally {
      await db.query(ALLOW_AUDIT);
    }
    const tasksStored = (await storedCounts(h.server.storage)).Task - before.Task;
    // Sent again once the audit store is back: intake finds the case (idempotent on RF1-6) and answers AA.
    const resent = msa(await sendWithMedplum(h.mllpPort, text)).code;
    const afterResend = (await storedCounts(h.server.storage)).Task - before.Task;
    expect({ first: msa(ack).code, tasksStored, resent, afterResend }).toEqual({ first: 'AE', tasksStored: 0, resent: 'AA', afterResend: 1 });
  });
});
