/**
 * /eso/* routes (the plain-JSON ESO request API and the case timeline).
 * STUB: replaced by the domain implementation (issue 3).
 */
import type { Express } from 'express';
import type { DomainWiring } from '../domain/index.ts';
import type { Actor } from '../domain/ports.ts';
import type { Repository } from '../fhir/repository.ts';

export interface EsoRouteDeps {
  domain: DomainWiring;
  /** The caller as a domain Actor (from the token), or undefined when auth is disabled. */
  actorOf: (res: import('express').Response) => Actor | undefined;
  repoFor: (actor: Actor | undefined) => Repository;
  baseUrl: () => string;
}

export function esoRoutes(_app: Express, _deps: EsoRouteDeps): void {}
