/**
 * The page frame every screen of the app shares: escaped text only (every value goes through `h`), one
 * stylesheet of our own, no script, and forms that carry the session's CSRF token.
 */
import { escapeHtml } from '../../domain/timeline/html.ts';

export const h = (v: unknown): string => escapeHtml(v === undefined || v === null ? '' : String(v));

export interface Frame {
  title: string;
  /** Who is signed in, with the sign-out form; absent on pages before sign-in and for families. */
  signedIn?: { name: string; organization: string; csrf: string };
  /** The family's page: larger type, plain words. */
  family?: boolean;
}

/** A form posting to our own path with the CSRF token. */
export function form(action: string, csrf: string, body: string, attrs = ''): string {
  return `<form method="post" action="${h(action)}"${attrs}><input type="hidden" name="csrf" value="${h(csrf)}">${body}</form>`;
}

export function page(f: Frame, main: string): string {
  const who = f.signedIn
    ? `<div class="who"><p>Signed in as <strong>${h(f.signedIn.name)}</strong>, ${h(f.signedIn.organization)}</p>${form('/app/sign-out', f.signedIn.csrf, '<button type="submit" class="secondary">Sign out</button>')}</div>`
    : '';
  return `<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(f.title)} – eso-bridge</title><link rel="stylesheet" href="/app/static/app.css"></head>
<body${f.family ? ' class="family"' : ''}>
<a class="skip" href="#main">Skip to main content</a>
<header><p class="brand">${f.family ? 'Second opinion for your child' : 'eso-bridge · External second opinions'}</p>${who}</header>
<main id="main">
<h1>${h(f.title)}</h1>
${main}
</main>
</body>
</html>`;
}

/** A plain message page (refusals, errors): what happened and what to do. */
export function messagePage(title: string, text: string, next?: string): string {
  return page({ title }, `<p class="message">${h(text)}</p>${next ? `<p>${h(next)}</p>` : ''}`);
}

export function fmtDate(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}
