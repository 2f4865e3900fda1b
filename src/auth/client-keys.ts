/**
 * A client's verification keys: its registered JWKS (re-read from the clients file when a kid
 * is unknown, so a client can add a key), or its JWKS URL (cached, refetched on an unknown kid).
 */
import type { ProtectedHeaderParameters } from 'jose';
import type { RegisteredClient } from './client-file.ts';
import { errors } from 'jose';
import { importVerifyKey, selectJwk } from './jwk-select.ts';
import { RemoteJwks, type RemoteJwksOptions } from './remote-jwks.ts';

export interface ClientSource {
  refresh(): Promise<void>;
  get(clientId: string): RegisteredClient | undefined;
}

export class ClientKeys {
  private readonly remotes = new Map<string, RemoteJwks>();
  /** Imported keys, per registered JWK object (a reload makes new objects). */
  private readonly imported = new WeakMap<object, CryptoKey>();

  constructor(private readonly clients: ClientSource, private readonly remoteOptions: RemoteJwksOptions = {}) {}

  /** The key the header names (kid + alg), or a jose error (ERR_JWKS_NO_MATCHING_KEY, ERR_JWKS_TIMEOUT, ...). */
  async keyFor(client: RegisteredClient, header: ProtectedHeaderParameters): Promise<CryptoKey> {
    if (client.jwksUri) return this.remote(client.jwksUri).getKey(header);
    let jwk = selectJwk(client.jwks?.keys ?? [], header);
    if (!jwk) {
      await this.clients.refresh();
      jwk = selectJwk(this.clients.get(client.clientId)?.jwks?.keys ?? [], header);
    }
    if (!jwk) throw new errors.JWKSNoMatchingKey();
    let key = this.imported.get(jwk);
    if (!key) {
      key = await importVerifyKey(jwk, header.alg as string);
      this.imported.set(jwk, key);
    }
    return key;
  }

  private remote(url: string): RemoteJwks {
    let r = this.remotes.get(url);
    if (!r) {
      r = new RemoteJwks(url, this.remoteOptions);
      this.remotes.set(url, r);
    }
    return r;
  }
}
