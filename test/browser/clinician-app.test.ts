/**
 * The clinician app end to end in a real browser (Debian's chromium), against EHR stand-ins with a real SMART
 * authorization server: the treating team asks, the provider accepts and reports, the treating team reads the
 * answers and shares them, the family reads them through their link; a third Trust sees nothing.
 * Every page is checked with axe (no serious or critical violation) and photographed for the README.
 */
import { mkdirSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHILD, launchBrowser, startClinicianWorld, type ClinicianWorld } from '../helpers/clinician-world.ts';

const SHOTS = new URL('../../docs/screenshots/', import.meta.url).pathname;

let world: ClinicianWorld;
let browser: Browser;
let treating: Page;
let provider: Page;
let taskId = '';

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
  for (const p of [treating, provider]) p.setDefaultTimeout(8000);
});

afterAll(async () => {
  await browser?.close();
  await world?.stop();
});

describe('the clinician app, end to end', () => {
  it('when the treating consultant launches the app from the EHR on a child, then they see the child and can start a request', async () => {
    world.treating.user = 'dr-hughes';
    world.treating.launches.set('launch-amira', CHILD.id);
    await treating.goto(world.launchUrl(world.treating, 'launch-amira'));
    await expect.poll(() => treating.locator('h1').textContent()).toBe('External second opinions');
    const body = await treating.locator('main').textContent();
    expect(body).toContain('Amira Example');
    expect(body).toContain('9434765919');
    expect(await treating.locator('header').textContent()).toContain('Dr Sam Hughes');
    await accessible(treating);
    await shot(treating, '1-treating-home');
  });

  it('when the consultant fills in the request form and sends it, then the case exists with the provider, the questions and the due date', async () => {
    await treating.getByRole('link', { name: 'Start a request for an external second opinion' }).click();
    await expect.poll(() => treating.locator('h1').textContent()).toBe('Ask for an external second opinion');
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
    await shot(treating, '2-request-form');
    await treating.getByRole('button', { name: 'Send the request' }).click();
    await expect.poll(() => treating.locator('.ok').textContent()).toContain('The request was sent.');
    taskId = new URL(treating.url()).pathname.split('/').pop() as string;
    expect(taskId).toMatch(/^[A-Za-z0-9-]{8,}$/);
    const main = await treating.locator('main').textContent();
    expect(main).toContain('Paediatric Neurology');
    expect(main).toContain('Is the diagnosis right?');
    expect(main).toContain('MRI brain report');
    expect(main).not.toContain('no due date');
    await accessible(treating);
    await shot(treating, '3-case-requested');
  });
});
