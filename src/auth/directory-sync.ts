/**
 * Keeps the stored Organizations in line with the directory file and the clients file: each
 * load of either applies both (applyDirectory), one application at a time.
 */
import type { Repository } from '../fhir/repository.ts';
import type { Logger } from '../shared/logger.ts';
import type { RegisteredClient } from './client-file.ts';
import { DirectoryRegistry } from './directory-registry.ts';
import { applyDirectory } from './directory-apply.ts';

export class DirectorySync {
  private clients: RegisteredClient[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly repo: () => Repository, private readonly log: Logger, private registry?: DirectoryRegistry) {}

  /** Reads the directory file; one that does not parse fails the start. Nothing is applied yet. */
  static async open(file: string, repo: () => Repository, log: Logger, recheckMs?: number): Promise<DirectorySync> {
    const sync = new DirectorySync(repo, log);
    sync.registry = await DirectoryRegistry.open(file, log, { recheckMs, onLoad: (entries) => sync.apply(entries) });
    return sync;
  }

  /** The clients file was (re)loaded: apply with its organisations. */
  async clientsLoaded(list: RegisteredClient[]): Promise<void> {
    const previous = this.clients;
    this.clients = list;
    try {
      await this.apply(this.registry!.entries());
    } catch (e) {
      this.clients = previous;
      throw e;
    }
  }

  /** Applies the directory as loaded now and watches the file from here on. */
  start(): Promise<void> {
    return this.registry!.start();
  }

  close(): void {
    this.registry?.close();
  }

  private apply(entries: ReturnType<DirectoryRegistry['entries']>): Promise<void> {
    const run = this.queue.then(async () => {
      const r = await applyDirectory(this.repo(), entries, this.clients);
      if (r.created.length || r.updated.length) this.log.info({ created: r.created, updated: r.updated }, 'Organizations brought in line with the directory');
      for (const x of r.refused) this.log.warn({ organization: x.ods, file: this.registry?.file }, `directory entry not applied: ${x.reason}`);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
