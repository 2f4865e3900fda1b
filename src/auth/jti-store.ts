/**
 * The assertion replay store: client|jti in the storage key table until the assertion's exp,
 * so a replay is caught across restarts and across instances sharing one database.
 */
import type { GroupCommit } from '../audit/group-commit.ts';

export const JTI_SCOPE = 'jti';

/** Records the jti; false when this client already used it and the record has not expired. */
export function jtiRecorder(commit: GroupCommit): (clientId: string, jti: string, expiresAt: Date) => Promise<boolean> {
  return (clientId, jti, expiresAt) => commit.run((tx) => tx.putKey(JTI_SCOPE, `${clientId}|${jti}`, '1', expiresAt.toISOString()));
}
