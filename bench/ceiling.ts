/** A bare Express 5 server (child process): the ceiling every figure is compared with, same run. */
import express from 'express';

const app = express();
app.use(express.json({ type: ['application/json', 'application/fhir+json'] }));
const small = { resourceType: 'Patient', id: 'p1', meta: { versionId: '1' }, name: [{ family: 'Evans' }] };
app.get('/read', (_req, res) => { res.json(small); });
app.post('/echo', (req, res) => { res.status(201).json(req.body); });
const server = app.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.send?.({ port: typeof addr === 'object' && addr ? addr.port : 0 });
});
