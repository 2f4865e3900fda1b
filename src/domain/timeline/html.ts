/**
 * The timeline as a small readable HTML page (Accept: text/html), for families and clinicians.
 * Everything that came from data is escaped: names and reasons are free text.
 */
import type { CaseTimeline } from './build.ts';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** "21 November 2026, 14:30" in UK English, London time. */
export function when(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/London' }).format(d);
}

export function renderTimelineHtml(t: CaseTimeline): string {
  const items = t.events.map((e) => `    <li><time datetime="${escapeHtml(e.at)}">${escapeHtml(when(e.at))}</time>
      <p>${escapeHtml(e.text)}</p>${e.by ? `\n      <p class="by">Recorded by ${escapeHtml(e.by)}</p>` : ''}</li>`).join('\n');
  return `<!doctype html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Second opinion for ${escapeHtml(t.child)}</title>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #212b32; }
    ol { list-style: none; padding: 0; border-left: 3px solid #005eb8; }
    li { margin: 0 0 1.25rem 1rem; }
    time { font-size: 0.9rem; color: #4c6272; }
    p { margin: 0.2rem 0; }
    .by { font-size: 0.9rem; color: #4c6272; }
  </style>
</head>
<body>
  <h1>Second opinion for ${escapeHtml(t.child)}</h1>
  <p>${escapeHtml(t.requester)} asked ${escapeHtml(t.provider)} for an independent second opinion. ${escapeHtml(t.child)}'s care stays with ${escapeHtml(t.requester)}, and no treatment waits for the opinion.</p>
  <ol>
${items || '    <li><p>Nothing has happened yet.</p></li>'}
  </ol>
</body>
</html>
`;
}
