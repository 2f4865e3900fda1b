/**
 * The administered directory, read from the directory file at start and re-read when it changes
 * (the CLI and other tools write it while the server runs). Unlike the clients file, nothing asks
 * for the directory by name, so the file is looked at on a timer rather than on demand.
 */
import type { Logger } from '../shared/logger.ts';
import { parseDirectoryFile, type DirectoryEntry } from './directory-file.ts';
import { fileStamp, readJsonFile } from './json-file.ts';

export interface DirectoryRegistryOptions {
  /** How often the file is looked at (ms). */
  recheckMs?: number;
  /** Called with the entries of each successful load (to bring the stored Organizations in line). */
  onLoad?: (entries: DirectoryEntry[]) => Promise<void>;
}

export class DirectoryRegistry {
  private current: DirectoryEntry[] = [];
  private stamp: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  private constructor(readonly file: string, private readonly log: Logger, private readonly opts: DirectoryRegistryOptions) {}

  /** Reads the file (absent = an empty directory); a file that does not parse fails the start. */
  static async open(file: string, log: Logger, opts: DirectoryRegistryOptions = {}): Promise<DirectoryRegistry> {
    const registry = new DirectoryRegistry(file, log, opts);
    const stamp = await fileStamp(file);
    registry.current = await readEntries(file, stamp);
    registry.stamp = stamp;
    return registry;
  }

  /** Applies the loaded directory (onLoad) and starts watching the file. */
  async start(): Promise<void> {
    await this.opts.onLoad?.(this.current);
    this.timer = setInterval(() => { void this.refresh(); }, this.opts.recheckMs ?? 1000);
    this.timer.unref();
  }

  /** Re-reads the file if it changed; a bad file keeps the last good directory. */
  refresh(): Promise<void> {
    this.checking ??= (async () => {
      try {
        const stamp = await fileStamp(this.file);
        if (stamp === this.stamp) return;
        let entries: DirectoryEntry[];
        try {
          entries = await readEntries(this.file, stamp);
        } catch (e) {
          this.stamp = stamp; // a bad file is reported once, not every second
          this.log.warn({ file: this.file, err: (e as Error).message }, 'directory file refused: keeping the last good directory');
          return;
        }
        await this.opts.onLoad?.(entries);
        this.current = entries;
        this.stamp = stamp;
        this.log.info({ file: this.file, organizations: entries.length }, 'directory file reloaded');
      } catch (e) {
        // Not applied (e.g. the database is away): the next look tries again.
        this.log.warn({ file: this.file, err: (e as Error).message }, 'directory file not applied yet: will retry');
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  entries(): DirectoryEntry[] {
    return this.current;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

async function readEntries(file: string, stamp: string | undefined): Promise<DirectoryEntry[]> {
  if (stamp === undefined) return [];
  return parseDirectoryFile((await readJsonFile(file)) ?? { organizations: [] });
}
