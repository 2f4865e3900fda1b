/**
 * The registered clients, read from the clients file and re-read when it changes, so that
 * `npm run cli -- client add` works against a running server. The file is looked at no more
 * than once a second (an unknown client_id cannot make the server hammer the disk).
 */
import type { Logger } from '../shared/logger.ts';
import { parseClientsFile, type RegisteredClient } from './client-file.ts';
import type { MllpBinding } from './mllp-binding.ts';
import { fileStamp, readJsonFile } from './json-file.ts';

export interface ClientRegistryOptions {
  /** The least time between two looks at the file (ms). */
  recheckMs?: number;
  /** Called with the clients of each successful load (e.g. to provision their Organizations). */
  onLoad?: (clients: RegisteredClient[]) => Promise<void>;
}

export class ClientRegistry {
  private clients = new Map<string, RegisteredClient>();
  private stamp: string | undefined;
  private checkedAt = 0;
  private checking: Promise<void> | undefined;

  private constructor(readonly file: string, private readonly log: Logger, private readonly opts: ClientRegistryOptions) {}

  /** Loads the file (absent = no clients yet); a file that does not parse fails the start. */
  static async open(file: string, log: Logger, opts: ClientRegistryOptions = {}): Promise<ClientRegistry> {
    const registry = new ClientRegistry(file, log, opts);
    await registry.load();
    if (!registry.clients.size) log.warn({ file }, 'no SMART clients registered yet: add one with `npm run cli -- client add`');
    return registry;
  }

  private async load(): Promise<void> {
    const stamp = await fileStamp(this.file);
    const json = stamp === undefined ? { clients: [] } : await readJsonFile(this.file);
    const list = parseClientsFile(json ?? { clients: [] });
    await this.opts.onLoad?.(list);
    this.clients = new Map(list.map((c) => [c.clientId, c]));
    this.stamp = stamp;
    this.checkedAt = Date.now();
  }

  /** Re-reads the file if it changed, at most once per `recheckMs`; a bad file keeps the previous registry. */
  async refresh(): Promise<void> {
    if (Date.now() - this.checkedAt < (this.opts.recheckMs ?? 1000)) return this.checking;
    this.checking ??= (async () => {
      try {
        this.checkedAt = Date.now();
        if ((await fileStamp(this.file)) === this.stamp) return;
        await this.load();
        this.log.info({ file: this.file, clients: this.clients.size }, 'clients file reloaded');
      } catch (e) {
        this.log.error({ file: this.file, err: (e as Error).message }, 'clients file not reloaded: keeping the previous registry');
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  /** The client, after a (rate-limited) look at the file when it is unknown or may have changed. */
  async find(clientId: string): Promise<RegisteredClient | undefined> {
    await this.refresh();
    return this.clients.get(clientId);
  }

  get(clientId: string): RegisteredClient | undefined {
    return this.clients.get(clientId);
  }

  /** The MLLP bindings of the organisation's client entries, after a (rate-limited) look at the file. */
  async mllpBindings(ods: string): Promise<MllpBinding[]> {
    await this.refresh();
    return [...this.clients.values()].filter((c) => c.organization === ods && c.mllp).map((c) => c.mllp!);
  }
}
