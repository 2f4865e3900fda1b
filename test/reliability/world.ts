/**
 * The parties the reliability harnesses act as, against a service they run as a child process:
 * one registered client per organisation (the ESO harness's Trusts and teams, and the HL7
 * samples' senders and providers), a backend (SQLite data dir or a fresh PostgreSQL database),
 * and the organisation directory (the operator's directory file; each organisation then adds its
 * own address once, against the first running service).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientsFileIn, registerClient, type ClientPrivateKey } from '../helpers/auth.ts';
import { backendEnv, type Backend } from '../helpers/backends.ts';
import { directoryFileIn, writeDirectory } from '../helpers/directory.ts';
import { esoDirectoryEntries, ORGS, party, setUpDirectory, type Party, type Role } from '../integration/eso/harness.ts';
import { hl7DirectoryEntries, PROVIDERS, REQUESTERS, setUpHl7Directory } from '../integration/hl7/harness.ts';

export interface World {
  backend: Backend;
  /** The service's environment: backend, clients file, auth and MLLP on (add outbox settings on top). */
  env: Record<string, string>;
  dataDir: string;
  /** A client per organisation (by ODS code) against the service at `url`. */
  parties(url: string): Record<string, Party>;
  /** Completes the organisation directory; once, against the first running service. */
  setUpDirectory(url: string): Promise<void>;
  cleanup(): Promise<void>;
}

const ODS_CODES = [...Object.values(ORGS), ...REQUESTERS, ...Object.keys(PROVIDERS)];
const clientIdOf = (ods: string) => `${ods.toLowerCase()}-client`;

export async function createWorld(backend: Backend): Promise<World> {
  const b = await backendEnv(backend);
  const clientsDir = mkdtempSync(join(tmpdir(), 'eso-rel-clients-'));
  const keys: Record<string, ClientPrivateKey> = {};
  // The HL7 samples' senders connect to MLLP from 127.0.0.1 (mllp-sender.ts): their client entries admit that address.
  const mllpOf = (ods: string) => ((REQUESTERS as readonly string[]).includes(ods) ? { addresses: ['127.0.0.1'] } : undefined);
  for (const ods of ODS_CODES) keys[ods] = await registerClient(clientsDir, { clientId: clientIdOf(ods), organization: ods, mllp: mllpOf(ods) });
  const directory = await writeDirectory(directoryFileIn(clientsDir), [...esoDirectoryEntries(), ...hl7DirectoryEntries()]);
  const parties = (url: string) => Object.fromEntries(ODS_CODES.map((ods) => [ods, party({ url }, ods, clientIdOf(ods), keys[ods])]));
  return {
    backend,
    env: { ...b.env, ESO_AUTH_DISABLED: 'false', ESO_CLIENTS_FILE: clientsFileIn(clientsDir), ESO_DIRECTORY_FILE: directory, MLLP_ENABLED: 'true', ESO_OUTBOX_ENABLED: 'false' },
    dataDir: b.dataDir,
    parties,
    async setUpDirectory(url) {
      const as = parties(url);
      await setUpDirectory(Object.fromEntries((Object.entries(ORGS) as [Role, string][]).map(([role, ods]) => [role, as[ods]])) as Record<Role, Party>);
      await setUpHl7Directory(as);
    },
    async cleanup() {
      await b.cleanup();
      rmSync(clientsDir, { recursive: true, force: true });
    },
  };
}
