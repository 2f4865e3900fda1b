/** Who is calling: a registered client acting for exactly one organisation, with granted scopes. */
export interface Principal {
  clientId: string;
  /** ODS code of the organisation the client acts for. */
  organization: string;
  /** Granted SMART scopes (v2 form, e.g. system/Task.rs). */
  scopes: string[];
  /** Token expiry (epoch seconds), for caches. */
  exp?: number;
  /** Who issued the token: this server's issuer URL, or the external authorization server's. */
  issuer?: string;
}
