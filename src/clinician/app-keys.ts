/**
 * eso-bridge's own keys as a confidential client of EHRs (private_key_jwt, ES384): made once, kept
 * in a private file in the data directory (shared by instances on one disk), public half at GET /app/jwks.
 * https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { createJsonFileExclusive, readJsonFile } from '../auth/json-file.ts';

const ALG = 'ES384';

export interface AppKeys {
  /** The public JWKS (kid, alg, use sig). */
  jwks(): { keys: JWK[] };
  /** A client assertion for the EHR's token endpoint (aud = its token URL, 5 minutes at most). */
  assertion(clientId: string, tokenUrl: string): Promise<string>;
}

export async function openAppKeys(file: string): Promise<AppKeys> {
  let stored = (await readJsonFile(file)) as { private: JWK } | undefined;
  if (!stored) {
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: ALG, use: 'sig' };
    await createJsonFileExclusive(file, { private: jwk });
    stored = (await readJsonFile(file)) as { private: JWK }; // another instance may have made it first
  }
  const priv = stored.private;
  const key = await importJWK(priv, ALG);
  const { d: _d, ...pub } = priv;
  return {
    jwks: () => ({ keys: [pub] }),
    assertion: (clientId, tokenUrl) => new SignJWT({})
      .setProtectedHeader({ alg: ALG, kid: priv.kid as string, typ: 'JWT' })
      .setIssuer(clientId).setSubject(clientId).setAudience(tokenUrl).setJti(randomUUID())
      .setIssuedAt().setExpirationTime('5m').sign(key),
  };
}
