/**
 * The running server's view of its key file: signs with the current key, verifies by kid, and
 * re-reads the file (no more than once a second) so a `keys rotate` from the CLI takes effect
 * without a restart. Several instances sharing one file agree on the keys the same way.
 */
import { createLocalJWKSet, errors, type JWK, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../shared/logger.ts';
import { fileStamp } from './json-file.ts';
import { currentKey, importSigningKey, loadOrCreateKeyFile, pruneRetired, publicJwks, type ServerKeyFile } from './server-keys.ts';

interface Loaded {
  file: ServerKeyFile;
  stamp: string | undefined;
  signing: { kid: string; key: CryptoKey };
  jwks: { keys: JWK[] };
  verify: JWTVerifyGetKey;
}

export class ServerKeyStore {
  private checkedAt = Date.now();
  private checking: Promise<void> | undefined;

  private constructor(readonly path: string, private readonly lifetimeSeconds: number, private readonly log: Logger, private loaded: Loaded) {}

  private static async load(path: string, lifetimeSeconds: number): Promise<Loaded> {
    const file = pruneRetired(await loadOrCreateKeyFile(path), lifetimeSeconds);
    const stamp = await fileStamp(path);
    const current = currentKey(file);
    const jwks = publicJwks(file);
    return { file, stamp, signing: { kid: current.kid, key: await importSigningKey(current) }, jwks, verify: createLocalJWKSet(jwks) };
  }

  static async open(path: string, lifetimeSeconds: number, log: Logger): Promise<ServerKeyStore> {
    return new ServerKeyStore(path, lifetimeSeconds, log, await ServerKeyStore.load(path, lifetimeSeconds));
  }

  /** Re-reads the file if it changed (at most once a second); a broken file keeps the keys in use. */
  async refresh(): Promise<void> {
    if (Date.now() - this.checkedAt < 1000) return this.checking;
    this.checkedAt = Date.now();
    this.checking ??= (async () => {
      try {
        if ((await fileStamp(this.path)) === this.loaded.stamp) return;
        this.loaded = await ServerKeyStore.load(this.path, this.lifetimeSeconds);
        this.log.info({ kid: this.loaded.signing.kid, keys: this.loaded.file.keys.length }, 'signing keys reloaded');
      } catch (e) {
        this.log.error({ err: (e as Error).message }, 'signing key file not reloaded: keeping the keys in use');
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  /** The key that signs new tokens. */
  async signingKey(): Promise<{ kid: string; key: CryptoKey }> {
    await this.refresh();
    return this.loaded.signing;
  }

  /** jwtVerify key resolver: by kid among current and retired keys; an unknown kid looks at the file once. */
  readonly verificationKey: JWTVerifyGetKey = async (header, token) => {
    // Keys are chosen by kid only (jose would otherwise take the one key that fits the alg).
    if (typeof header.kid !== 'string') throw new errors.JWKSNoMatchingKey();
    if (!this.loaded.file.keys.some((k) => k.kid === header.kid)) await this.refresh();
    // A key retired longer ago than any token it signed can live verifies nothing more.
    const usable = pruneRetired(this.loaded.file, this.lifetimeSeconds).keys.some((k) => k.kid === header.kid);
    if (!usable) throw new errors.JWKSNoMatchingKey();
    return this.loaded.verify(header, token);
  };

  publicJwks(): { keys: JWK[] } {
    return this.loaded.jwks;
  }
}
