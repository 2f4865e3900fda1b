/**
 * The clinician app end to end in a real browser (Debian's chromium), against EHR stand-ins with a real SMART
 * authorization server: the treating team asks, the provider accepts and reports, the treating team reads the
 * answers and shares them, the family reads them through their link; a third Trust sees nothing.
 * Every page is checked with axe (no serious or critical violation) and photographed for the README.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHILD, launchBrowser, startClinicianWorld, type ClinicianWorld } from '../helpers/clinician-world.ts';

// The README's screenshots: refreshed with ESO_SCREENSHOTS_DIR=docs/screenshots; other runs write them to a scratch folder
// (still taken, so a broken page shows), leaving the working tree clean.
const SHOTS = `${process.env.ESO_SCREENSHOTS_DIR ?? join(tmpdir(), 'eso-app-screenshots')}/`;

let world: ClinicianWorld;
let browser: Browser;
let treating: Page;
let provider: Page;
let taskId = '';
let familyLink = '';
let recordUrl = '';

/** Polls until the page shows it: generous, because CI runs this beside the whole suite on two cores. */
const eventually = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 20_000, interval: 100 });

/** axe finds no serious or critical violation on the page as it stands. */
async function accessible(page: Page): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help}`);
  expect(bad).toEqual([]);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  world = await startClinicianWorld();
  browser = await launchBrowser();
  treating = await (await browser.newContext()).newPage();
  provider = await (await browser.newContext()).newPage();
  for (const p of [treating, provider]) p.setDefaultTimeout(20_000);
});

afterAll(async () => {
  await browser?.close();
  await world?.stop();
});

describe('the clinician app, end to end', { timeout: 120_000 }, () => {
  it('when the treating consultant launches the app from the EHR on a child, then they see the child and can start a request', async () => {
    world.treating.user = 'dr-hughes';
    world.treating.launches.set('launch-amira', CHILD.id);
    await treating.goto(world.launchUrl(world.treating, 'launch-amira'));
    await eventually(() => treating.locator('h1').textContent()).toBe('External second opinions');
    const body = await treating.locator('main').textContent();
    expect(body).toContain('Amira Example');
    expect(body).toContain('9434765919');
    expect(await treating.locator('header').textContent()).toContain('Dr Sam Hughes, Southern Children\'s Hospital');
    await accessible(treating);
    await shot(treating, '1-treating-home');
  });

  it('when the consultant fills in the request form and sends it, then the case exists with the provider, the questions and the due date', async () => {
    // With the keyboard alone: the skip link first, then sign-out, then the way to a new request.
    await treating.keyboard.press('Tab');
    expect(await treating.locator(':focus').textContent()).toBe('Skip to main content');
    await treating.keyboard.press('Tab');
    await treating.keyboard.press('Tab');
    expect(await treating.locator(':focus').textContent()).toBe('Start a request for an external second opinion');
    await treating.keyboard.press('Enter');
    await eventually(() => treating.locator('h1').textContent()).toBe('Ask for an external second opinion');
    // The independence rule is shown before sending: a team of the same Trust cannot be chosen.
    expect(await treating.locator('option[value="RTTNE"]').getAttribute('disabled')).not.toBeNull();
    expect(await treating.getByLabel('Named consultant', { exact: true }).inputValue()).toBe('Dr Sam Hughes');
    await accessible(treating);
    await treating.getByLabel('Reason').fill('Drug-resistant epilepsy: is surgery the right next step?');
    await treating.getByLabel('Clinical summary').fill('Seizures since age 4 despite three medicines.');
    await treating.locator('#urgency').selectOption('urgent');
    await treating.locator('#q1').fill('Is the diagnosis right?');
    await treating.getByLabel('Question 1 asked by').selectOption('family');
    await treating.locator('#q2').fill('Is surgery reasonable now?');
    await treating.locator('#familyStatement').fill('Amira loves swimming and wants to go back to school full time.');
    await treating.getByLabel('Family advocate (the family\'s point of contact)').fill('Jo Advocate');
    await treating.getByLabel('Parent or carer').fill('Maya Example');
    await treating.locator('#provider').selectOption('RPVNP');
    await treating.getByLabel('Consent given by').selectOption('parent');
    await treating.locator('#upload').setInputFiles({ name: 'Letter from the family doctor.txt', mimeType: 'text/plain', buffer: Buffer.from('Seen in clinic; seizures weekly.') });
    await shot(treating, '2-request-form');
    await treating.getByRole('button', { name: 'Send the request' }).click();
    await eventually(() => treating.locator('.ok').textContent()).toContain('The request was sent.');
    taskId = new URL(treating.url()).pathname.split('/').pop() as string;
    expect(taskId).toMatch(/^[A-Za-z0-9-]{8,}$/);
    const main = await treating.locator('main').textContent();
    expect(main).toContain('Paediatric Neurology');
    expect(main).toContain('Is the diagnosis right?');
    expect(main).toContain('MRI brain report');
    expect(main).toContain('Letter from the family doctor.txt');
    expect(main).not.toContain('no due date');
    await accessible(treating);
    await shot(treating, '3-case-requested');
  });

  it('when the provider\'s specialist launches the app with no patient in context, then the worklist shows the urgent case first', async () => {
    world.provider.user = 'dr-okafor';
    await provider.goto(world.launchUrl(world.provider, 'launch-worklist'));
    await eventually(() => provider.locator('h1').textContent()).toBe('Second opinion worklist');
    const row = provider.locator('tbody tr').first();
    expect(await row.textContent()).toContain('Amira Example');
    expect(await row.textContent()).toContain('urgent');
    await accessible(provider);
    await shot(provider, '4-provider-worklist');
  });

  it('when the provider accepts without the independence declaration, then the rule refuses it in its own words, and with it the case is accepted', async () => {
    await provider.getByRole('link', { name: 'Amira Example' }).click();
    // The records the consent covers: an uploaded one comes as a download, never shown as a page of ours.
    recordUrl = new URL(await provider.getByRole('link', { name: 'Letter from the family doctor.txt' }).getAttribute('href') as string, world.eso.url).toString();
    const record = await provider.request.get(recordUrl);
    expect(await record.text()).toBe('Seen in clinic; seizures weekly.');
    expect(record.headers()['content-disposition']).toMatch(/^attachment/);
    await provider.getByRole('button', { name: 'Mark as received' }).click();
    await eventually(() => provider.locator('.ok').textContent()).toContain('Marked as received.');
    await provider.getByRole('button', { name: 'Accept the request' }).click();
    await eventually(() => provider.locator('main').textContent()).toContain('must declare that it is independent');
    await provider.goto(`${world.eso.url}/app/cases/${taskId}`);
    await provider.getByLabel('We are independent of the treating team (a separate Trust or Health Board)').check();
    await provider.getByLabel('We have no conflict of interest').check();
    await provider.getByLabel('Professional body').fill('Royal College of Paediatrics and Child Health');
    await provider.getByRole('button', { name: 'Accept the request' }).click();
    await eventually(() => provider.locator('.ok').textContent()).toContain('You accepted the request.');
  });

  it('when the provider records progress and writes one answer per question with a summary, then the report is issued', async () => {
    await provider.getByLabel('Step').selectOption('records-review');
    await provider.getByRole('button', { name: 'Record progress' }).click();
    await eventually(() => provider.locator('.ok').textContent()).toContain('Progress recorded.');
    await provider.locator('#answer-q1').fill('Yes: the history, EEGs and MRI support the diagnosis.');
    await provider.locator('#answer-q2').fill('A ketogenic diet trial first is reasonable; surgery can follow.');
    await provider.locator('#plainSummary').fill('We agree with the diagnosis. We suggest trying a special diet before thinking about an operation.');
    await accessible(provider);
    await shot(provider, '5-provider-report-form');
    await provider.getByRole('button', { name: 'Issue the report' }).click();
    await eventually(() => provider.locator('.ok').textContent()).toContain('The report was issued.');
  });

  it('when the treating consultant opens the case again, then each answer stands beside its question, and they record the discussion and make a family link', async () => {
    await treating.goto(`${world.eso.url}/app/cases/${taskId}`);
    const qa = treating.locator('.qa').first();
    expect(await qa.textContent()).toContain('Is the diagnosis right?');
    expect(await qa.textContent()).toContain('Yes: the history, EEGs and MRI support the diagnosis.');
    await treating.getByRole('button', { name: 'Record that the opinion was discussed with the family' }).click();
    await eventually(() => treating.locator('.ok').textContent()).toContain('discussed with the family');
    await treating.getByRole('button', { name: 'Create a family link' }).click();
    await eventually(() => treating.locator('.copy').count()).toBe(1);
    await accessible(treating);
    await shot(treating, '6-case-completed-family-link');
    familyLink = (await treating.locator('.copy').textContent()) as string;
    expect(familyLink).toMatch(/\/family\?link=[A-Za-z0-9_-]{43}$/);
  });

  it('when the family opens their link on a phone and gives the date of birth, then they read the answers in plain words and that care stays with their team', async () => {
    const family = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    family.setDefaultTimeout(20_000);
    await family.goto(familyLink);
    await accessible(family);
    await family.getByLabel('Your child\'s date of birth').fill('2016-03-28');
    await family.getByRole('button', { name: 'Show the page' }).click();
    await eventually(() => family.locator('main').textContent()).toContain('does not match');
    await family.getByLabel('Your child\'s date of birth').fill(CHILD.birthDate);
    await family.getByRole('button', { name: 'Show the page' }).click();
    await eventually(() => family.locator('h1').textContent()).toBe('Second opinion for Amira Example');
    const main = await family.locator('main').textContent();
    expect(main).toContain('No treatment waits for this second opinion');
    expect(main).toContain('We agree with the diagnosis.');
    expect(main).toContain('Jo Advocate');
    await accessible(family);
    await shot(family, '7-family-page');
    await family.context().close();
  });

  it('when the treating team withdraws consent, then the provider no longer sees the records', async () => {
    await treating.getByRole('button', { name: 'Withdraw consent to share records' }).click();
    await eventually(() => treating.locator('.ok').textContent()).toContain('Consent was withdrawn');
    await provider.goto(`${world.eso.url}/app/cases/${taskId}`);
    const main = await provider.locator('main').textContent();
    expect(main).toContain('No records shared');
    expect(main).not.toContain('MRI brain report');
    expect((await provider.request.get(recordUrl)).status()).toBe(404);
  });

  it('when the treating team\'s actions are read back over FHIR, then each Provenance names the clinician beside the organisation', async () => {
    const res = await fetch(`${world.eso.fhir}/Provenance?target=Task/${taskId}&_count=50`, { headers: await world.eso.clients['rtt-epr'].headers() });
    const bundle = (await res.json()) as { entry?: { resource: { agent: { who: { identifier?: { value?: string }; display?: string } }[] } }[] };
    const people = (bundle.entry ?? []).flatMap((e) => e.resource.agent.map((a) => a.who.display));
    expect(people).toContain('Dr Sam Hughes');
    expect(people).toContain('Dr Ngozi Okafor');
  });

  it('when a clinician of a third Trust opens the same child, then they see no case, and the case itself is not found', async () => {
    const stranger = await (await browser.newContext()).newPage();
    stranger.setDefaultTimeout(20_000);
    world.third.launches.set('launch-third', CHILD.id);
    await stranger.goto(world.launchUrl(world.third, 'launch-third'));
    await eventually(() => stranger.locator('main').textContent()).toContain('at your Trust: none.');
    const res = await stranger.goto(`${world.eso.url}/app/cases/${taskId}`);
    expect(res?.status()).toBe(404);
    expect(await stranger.locator('h1').textContent()).toBe('Not found');
    // The refused access is in the audit trail, under the third Trust, naming what was asked for.
    const refused = (await world.eso.storage.search({ type: 'AuditEvent', criteria: [{ kind: 'reference', param: 'entity', values: [`Task/${taskId}`] }], count: 500, offset: 0, total: 'none' }))
      .resources.map((r) => JSON.stringify(r.resource)).filter((e) => e.includes('app-refused'));
    expect(refused.some((e) => e.includes('R3T') && e.includes('HTTP 404'))).toBe(true);
    await stranger.context().close();
  });

  it('when a page refuses something or says goodbye, then it is as accessible as the rest', async () => {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${world.eso.url}/app/launch?iss=${encodeURIComponent('https://ehr.example.org/fhir')}`);
    expect(await page.locator('h1').textContent()).toBe('This EHR is not registered');
    await accessible(page);
    await page.goto(`${world.eso.url}/family?link=${'x'.repeat(43)}`);
    expect(await page.locator('h1').textContent()).toBe('This link does not work');
    await accessible(page);
    await treating.getByRole('button', { name: 'Sign out' }).click();
    await eventually(() => treating.locator('h1').textContent()).toBe('You have signed out');
    await accessible(treating);
    await page.context().close();
  });

  it('when the consultant uses a standalone launch (the EHR picks the patient), then they reach the same child\'s cases', async () => {
    world.treating.standalonePatient = CHILD.id;
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(world.launchUrl(world.treating));
    await eventually(() => page.locator('tbody').textContent()).toContain('Amira Example');
    await page.context().close();
  });
});
