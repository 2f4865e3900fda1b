/**
 * Administration from the command line (`npm run cli -- <command>`). Works against a running
 * server: it re-reads the clients file and the signing key file when they change.
 *
 *   client add --id rq1-epr --org RQ1 [--org-name "..."] [--scopes "system/*.cruds"] [--alg ES384|RS384]
 *              [--jwks-uri https://...] [--file data/clients.json] [--key-out data/keys/rq1-epr.private.jwk.json] [--replace]
 *              [--mllp-address 10.1.2.3 ...] [--mllp-cert sender-client-cert.pem]   (who may send HL7 v2 over MLLP for --org)
 *   client list [--file ...]
 *   client remove --id rq1-epr [--file ...]
 *   org add --ods RZ2NP --name "Paediatric Neurology" [--part-of RZ2] [--directory data/directory.json]
 *   org move --ods RZ2NP (--part-of RZ2 | --top-level) [--directory ...]
 *   org list [--directory ...]
 *              (the administered directory: where each organisation sits; a running server applies it)
 *   keys rotate [--key-file data/signing-keys.json]
 *   token --id rq1-epr [--scope "system/*.cruds"] [--url http://127.0.0.1:8080] [--key data/keys/rq1-epr.private.jwk.json]
 *         (acts as the client: signs an assertion with its private key and prints an access token, for curl)
 *   backup <dir>             (while the service runs: the database, signing keys, clients and directory files; src/backup.ts)
 *   restore <dir> [--force]  (with the service stopped)
 * Exit codes: 0 done, 1 failed while running, 2 usage or configuration, 3 the server is not reachable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { addClient, listClients, removeClient, type ClientAlg } from './auth/client-admin.ts';
import { certificateFingerprint } from './auth/mllp-binding.ts';
import { addOrganization, listOrganizations, moveOrganization } from './auth/directory-admin.ts';
import { requestAccessToken } from './auth/client-assertion.ts';
import { rotateKeyFile } from './auth/server-keys.ts';
import { splitScopeParam } from './auth/scopes.ts';
import { backup, BackupError, describeManifest, restore } from './backup.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { isUnreachable, localServerUrl, unreachableMessage } from './config/local-url.ts';
import { EXIT } from './config/start-failure.ts';
import { resendCaseCommand } from './federation/resend-command.ts';
import { isOutcomeError } from './shared/outcomes.ts';

/** A refusal the operator can act on: one line, and an exit code (2 usage or configuration, 3 server not reachable). */
class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.config) {
    super(message);
  }
}

const USAGE = `usage:
  npm run cli -- client add --id <client_id> --org <ODS> [--org-name <name>] [--scopes "system/*.cruds"] [--alg ES384|RS384]
                            [--jwks-uri <url>] [--file <clients.json>] [--key-out <private.jwk.json>] [--replace]
                            [--mllp-address <ip> (repeatable)] [--mllp-cert <client-cert.pem>]
  npm run cli -- client list [--file <clients.json>]
  npm run cli -- client remove --id <client_id> [--file <clients.json>]
  npm run cli -- org add --ods <ODS> --name <name> [--part-of <ODS>] [--directory <directory.json>]
  npm run cli -- org move --ods <ODS> (--part-of <ODS> | --top-level) [--directory <directory.json>]
  npm run cli -- org list [--directory <directory.json>]
  npm run cli -- keys rotate [--key-file <signing-keys.json>]
  npm run cli -- token --id <client_id> [--scope "system/*.cruds"] [--url http://127.0.0.1:8080] [--key <private.jwk.json>]
  npm run cli -- case resend <taskId>      (Trust to Trust: queue the case's current state for its peer again)
  npm run cli -- backup <dir>              (while the service runs: database, signing keys, clients, directory)
  npm run cli -- restore <dir> [--force]   (service stopped; --force replaces an existing database)
Defaults follow the server: ESO_CLIENTS_FILE or ESO_DATA_DIR/clients.json; ESO_DIRECTORY_FILE or ESO_DATA_DIR/directory.json;
ESO_SIGNING_KEY_FILE or ESO_DATA_DIR/signing-keys.json; the server at ESO_BASE_URL or http://HOST:PORT.
Exit codes: 0 done, 1 failed while running, 2 usage or configuration, 3 the server is not reachable.
`;

const env = process.env;
const dataDir = env.ESO_DATA_DIR || './data';
const defaultClientsFile = env.ESO_CLIENTS_FILE || join(dataDir, 'clients.json');
const defaultKeyFile = env.ESO_SIGNING_KEY_FILE || join(dataDir, 'signing-keys.json');
const defaultDirectoryFile = env.ESO_DIRECTORY_FILE || join(dataDir, 'directory.json');

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      id: { type: 'string' }, org: { type: 'string' }, 'org-name': { type: 'string' }, scopes: { type: 'string' }, alg: { type: 'string' },
      'jwks-uri': { type: 'string' }, file: { type: 'string' }, 'mllp-address': { type: 'string', multiple: true }, 'mllp-cert': { type: 'string' }, 'key-out': { type: 'string' }, replace: { type: 'boolean' },
      ods: { type: 'string' }, name: { type: 'string' }, 'part-of': { type: 'string' }, 'top-level': { type: 'boolean' }, directory: { type: 'string' },
      'key-file': { type: 'string' }, scope: { type: 'string' }, url: { type: 'string' }, key: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      force: { type: 'boolean' },
    },
  });
  const command = positionals.join(' ');
  const file = values.file ?? defaultClientsFile;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'client add') {
    if (!values.id || !values.org) throw new Error('client add needs --id and --org');
    const alg = (values.alg ?? 'ES384').toUpperCase();
    if (alg !== 'ES384' && alg !== 'RS384') throw new Error('--alg must be ES384 or RS384');
    const keyOut = values['jwks-uri'] ? undefined : values['key-out'] ?? join(dirname(file), 'keys', `${values.id}.private.jwk.json`);
    const mllpAddresses = values['mllp-address'] ?? [];
    const mllpCert = values['mllp-cert'] ? certificateFingerprint(readFileSync(values['mllp-cert'])) : undefined;
    const { client } = await addClient(file, {
      clientId: values.id, organization: values.org, organizationName: values['org-name'], scopes: values.scopes ? splitScopeParam(values.scopes) : undefined,
      alg: alg as ClientAlg, jwksUri: values['jwks-uri'], keyOut, replace: values.replace,
      mllp: mllpAddresses.length || mllpCert ? { addresses: mllpAddresses, certificateSha256: mllpCert } : undefined,
    });
    process.stdout.write(`registered ${client.clientId} for ${client.organization} with scopes ${client.scopes.join(' ')} in ${file}\n`);
    if (client.mllp) process.stdout.write(`may send HL7 v2 over MLLP for ${client.organization} from ${mllpDescription(client.mllp)}\n`);
    if (keyOut) process.stdout.write(`private key (keep it secret; give it to the client only): ${keyOut}\n`);
    return 0;
  }
  if (command === 'client list') {
    for (const c of await listClients(file)) {
      process.stdout.write(`${c.clientId}\t${c.organization}\t${c.scopes.join(' ')}\t${c.jwksUri ?? `${c.jwks?.keys.length ?? 0} key(s)`}${c.mllp ? `\tmllp: ${mllpDescription(c.mllp)}` : ''}\n`);
    }
    return 0;
  }
  if (command === 'client remove') {
    if (!values.id) throw new Error('client remove needs --id');
    const removed = await removeClient(file, values.id);
    process.stdout.write(removed ? `removed ${values.id}; its tokens expire within their lifetime\n` : `${values.id} was not registered\n`);
    return removed ? 0 : 1;
  }
  if (command.startsWith('org ')) return orgCommand(command, values);
  if (command === 'keys rotate') {
    const lifetime = Number(env.ESO_TOKEN_LIFETIME_SECONDS || 300);
    const r = await rotateKeyFile(values['key-file'] ?? defaultKeyFile, lifetime);
    process.stdout.write(`new signing key ${r.current}; retired ${r.retired.join(', ') || 'none'} (still verify for ${lifetime + 60} s); dropped ${r.dropped.join(', ') || 'none'}\n`);
    return 0;
  }
  if (command === 'token') return tokenCommand(file, values);
  if (positionals[0] === 'case' && positionals[1] === 'resend') return caseResendCommand(positionals.slice(2));
  if (positionals[0] === 'backup' || positionals[0] === 'restore') return backupCommand(positionals, values.force === true);
  process.stderr.write(`unknown command: ${command}\n${USAGE}`);
  return 2;
}

/** `token`: acts as the client, so its refusals name the client, the key or the server that is missing. */
async function tokenCommand(file: string, values: { id?: string; key?: string; url?: string; scope?: string }): Promise<number> {
  if (!values.id) throw new CliError('token needs --id <client_id>; `npm run cli -- client list` shows them');
  if (!values.key) {
    const known = existsSync(file) ? await listClients(file) : [];
    if (!known.some((c) => c.clientId === values.id)) throw new CliError(`no client '${values.id}' in ${file}; \`npm run cli -- client list\``);
  }
  const keyFile = values.key ?? join(dirname(file), 'keys', `${values.id}.private.jwk.json`);
  if (!existsSync(keyFile)) throw new CliError(`no private key for '${values.id}' at ${keyFile}: pass --key <private.jwk.json>`);
  const base = (values.url ?? localServerUrl(env)).replace(/\/+$/, '');
  try {
    const t = await requestAccessToken(`${base}/auth/token`, values.id, JSON.parse(readFileSync(keyFile, 'utf8')), values.scope ?? 'system/*.cruds');
    process.stdout.write(`${t.access_token}\n`);
    return 0;
  } catch (e) {
    if (isUnreachable(e)) throw new CliError(unreachableMessage(base), EXIT.unavailable);
    throw e;
  }
}

/** The service's configuration from the environment; a bad one is the operator's error (CliError), not a crash. */
function configFromEnv() {
  try {
    return loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message);
    throw e;
  }
}

/** `case resend <taskId>`: queues the case's current state for its peer again (docs/FEDERATION.md). */
async function caseResendCommand(args: string[]): Promise<number> {
  if (args.length !== 1 || !/^[A-Za-z0-9\-.]{1,64}$/.test(args[0])) throw new CliError('case resend needs one Task id: npm run cli -- case resend <taskId>');
  const config = configFromEnv();
  try {
    const events = await resendCaseCommand(config, args[0]);
    process.stdout.write(`queued ${events.join(', ')} for Task/${args[0]}: the running service sends it (GET /admin/outbox shows it)\n`);
    return 0;
  } catch (e) {
    if (isOutcomeError(e)) throw new CliError(e.message);
    throw e;
  }
}

/** `backup <dir>` (while the service runs) and `restore <dir> [--force]` (with it stopped), for the configuration in the environment. */
async function backupCommand(positionals: string[], force: boolean): Promise<number> {
  const [what, dir, ...rest] = positionals;
  if (!dir || rest.length) throw new CliError(`${what} needs one directory: npm run cli -- ${what} <dir>`);
  const config = configFromEnv();
  try {
    const m = what === 'backup' ? backup(config, dir) : restore(config, dir, { force });
    process.stdout.write(`${what === 'backup' ? 'backed up' : 'restored'} the ${describeManifest(m, dir)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof BackupError) throw new CliError(e.message);
    throw e;
  }
}

/** `org add|move|list`: edits the directory file, which a running server re-reads and applies. */
async function orgCommand(command: string, values: { ods?: string; name?: string; 'part-of'?: string; 'top-level'?: boolean; directory?: string }): Promise<number> {
  const file = values.directory ?? defaultDirectoryFile;
  const where = (partOf?: string) => (partOf ? `under ${partOf}` : 'at the top level');
  if (command === 'org add') {
    if (!values.ods || !values.name) throw new Error('org add needs --ods and --name');
    const e = await addOrganization(file, { ods: values.ods, name: values.name, partOf: values['part-of'] });
    process.stdout.write(`added ${e.ods} (${e.name}) ${where(e.partOf)} in ${file}\n`);
    return 0;
  }
  if (command === 'org move') {
    if (!values.ods || !values['part-of'] === !values['top-level']) throw new Error('org move needs --ods and one of --part-of <ODS> and --top-level');
    const e = await moveOrganization(file, values.ods, values['part-of']);
    process.stdout.write(`moved ${e.ods} ${where(e.partOf)} in ${file}\n`);
    return 0;
  }
  if (command === 'org list') {
    for (const e of await listOrganizations(file)) process.stdout.write(`${e.ods}\t${e.partOf ?? '-'}\t${e.name}\n`);
    return 0;
  }
  process.stderr.write(`unknown command: ${command}\n${USAGE}`);
  return 2;
}

function mllpDescription(m: { addresses: string[]; certificateSha256?: string }): string {
  return [...m.addresses, ...(m.certificateSha256 ? [`certificate sha256 ${m.certificateSha256}`] : [])].join(', ');
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  // A bad argument (parseArgs) is a usage error like a CliError; anything else failed while running.
  const usage = (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.exitCode = e instanceof CliError ? e.exitCode : usage ? EXIT.config : EXIT.runtime;
});
