/**
 * GET / : what this server is, its version, and where to go next. No token needed, nothing
 * private (no counts, no organisations, no configuration). Server-rendered HTML under a strict
 * Content-Security-Policy: no script at all, and only the one stylesheet below, allowed by its hash.
 */
import { createHash } from 'node:crypto';
import type { Express } from 'express';
import { openApiDocument } from './openapi.ts';

const STYLE = 'body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#212b32}'
  + 'a{color:#005eb8}code{background:#f0f4f5;padding:0 .2em}li{margin:.3em 0}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

export const LANDING_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderLandingPage(opts: { version: string; baseUrl: string }): string {
  const b = escape(opts.baseUrl);
  const links: [string, string, string][] = [
    [`${b}/fhir/metadata`, 'FHIR R4 CapabilityStatement', 'what the FHIR API offers (resources, searches, profiles, security)'],
    [`${b}/fhir/.well-known/smart-configuration`, 'SMART configuration', 'how systems get a token (SMART Backend Services)'],
    [`${b}/openapi.json`, 'OpenAPI description', 'the ESO JSON API, HL7 v2 over HTTP, tokens, admin, health and metrics'],
    [`${b}/healthz`, 'Health', 'the process is up'],
    [`${b}/readyz`, 'Readiness', 'the database answers'],
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>eso-bridge ${escape(opts.version)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>eso-bridge</h1>
<p>External second opinions for children between NHS Trusts: a treating team's request, the child's
records shared with the independent provider only under consent, and the provider's opinion back to the
treating team and the family. Over FHIR R4, a plain JSON API and HL7 v2. Version <strong>${escape(opts.version)}</strong>.</p>
<h2>Where to go</h2>
<ul>
${links.map(([href, name, what]) => `<li><a href="${href}">${name}</a>: ${what}</li>`).join('\n')}
</ul>
<h2>Documentation</h2>
<p>In the source distribution: <code>README.md</code> (start, configuration, first look),
<code>docs/WORKFLOW.md</code> (the ESO process and the JSON API), <code>docs/DEPLOYMENT.md</code> (running it),
<code>SECURITY.md</code> (trust boundaries) and <code>docs/CLINICAL-SAFETY.md</code> (hazard log).</p>
<p>Everything except this page, the CapabilityStatement, the SMART configuration, the OpenAPI description,
<code>/auth/*</code> and the health checks needs a bearer token.</p>
</main>
</body>
</html>
`;
}

/** Mounts GET / and GET /openapi.json (public, before authentication). */
export function landingRoutes(app: Express, deps: { version: string; baseUrl: () => string }): void {
  app.get('/', (_req, res) => {
    res.setHeader('Content-Security-Policy', LANDING_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.status(200).type('text/html; charset=utf-8').send(renderLandingPage({ version: deps.version, baseUrl: deps.baseUrl() }));
  });
  app.get('/openapi.json', (_req, res) => {
    res.status(200).type('application/json; charset=utf-8').send(JSON.stringify(openApiDocument({ version: deps.version, baseUrl: deps.baseUrl() })));
  });
}
