// Georegistry pages, as their APIs land. Screenshots at 1366×768 in $IASO_E2E_SCREENSHOTS.
import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const DEMO_PASSWORD = process.env.IASO_DEMO_PASSWORD ?? '';
const SHOTS = process.env.IASO_E2E_SCREENSHOTS ?? 'screenshots';
mkdirSync(SHOTS, { recursive: true });

async function shot(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function login(page: Page): Promise<void> {
  await page.goto('/login');
  await page.locator('#username').fill('demo');
  await page.locator('#password').fill(DEMO_PASSWORD);
  await page.locator('form button[type="submit"]').click();
  await expect(page.locator('.topbar-title')).toBeVisible();
}

test('org unit types: create the levels, link them, delete one', async ({ page }) => {
  await login(page);
  await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Org unit types' }).click();
  await expect(page.locator('.topbar-title')).toHaveText('Org unit types');
  // The demo's synthetic country brings its own types; the test works on types of its own
  // ("Zone", "Nation", "Outpost"), found with the search box.
  const seeded = ((await (await page.request.get('/api/v2/orgunittypes/')).json()).orgUnitTypes as unknown[]).length > 0;
  if (!seeded) {
    await expect(page.getByText('No org unit type yet.')).toBeVisible();
    await shot(page, '30-org-unit-types-empty');
  }

  const dialog = page.getByRole('dialog');
  for (const [name, short, depth] of [
    ['Zone', 'ZON', '1'],
    ['Nation', 'NAT', '0'],
    ['Outpost', 'OUT', '3'],
  ]) {
    await page.locator('[data-test="create-type"]').click();
    await dialog.locator('#t-name').fill(name!);
    await dialog.locator('#t-short').fill(short!);
    await dialog.locator('#t-depth').fill(depth!);
    // Types belong to projects (preselected when the account has just one).
    await dialog.getByRole('button', { name: /^Projects:/ }).click();
    await dialog.getByRole('group', { name: 'Projects' }).getByLabel('Main Project').check();
    await dialog.getByRole('group', { name: 'Projects' }).getByRole('button', { name: 'Close' }).click();
    await dialog.locator('[data-test="save-type"]').click();
    await expect(dialog).toHaveCount(0);
    await expect(page.locator('.dt-body')).toContainText(name!);
  }
  // Sorted by level by default.
  if (!seeded) await expect(page.locator('.dt-body .dt-row').first()).toContainText('Nation');

  // A level must be a whole number: said before sending.
  await page.locator('[data-test="create-type"]').click();
  await dialog.locator('#t-name').fill('Broken');
  await dialog.locator('#t-short').fill('B');
  await dialog.locator('#t-depth').fill('-2');
  await dialog.locator('[data-test="save-type"]').click();
  await expect(dialog.getByText('The level is a whole number, 0 or more.')).toBeVisible();
  await dialog.getByRole('button', { name: 'Cancel' }).click();

  await page.getByRole('button', { name: 'Edit Nation' }).click();
  await dialog.getByRole('button', { name: /^Sub-types:/ }).click();
  await dialog.getByRole('group', { name: 'Sub-types' }).getByLabel('Zone', { exact: true }).check();
  await dialog.getByRole('group', { name: 'Sub-types' }).getByRole('button', { name: 'Close' }).click();
  await shot(page, '31-org-unit-type-dialog');
  await dialog.locator('[data-test="save-type"]').click();
  await expect(page.getByText('Org unit type saved.').last()).toBeVisible();
  await expect(page.locator('.dt-body .dt-row', { hasText: 'Nation' }).locator('.chip').first()).toHaveText('Zone');
  await shot(page, '32-org-unit-types');

  const before = await page.locator('.dt-body .dt-row').count();
  await page.getByRole('button', { name: 'Delete Outpost' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByText('The type Outpost was deleted.')).toBeVisible();
  await expect(page.locator('.dt-body .dt-row')).toHaveCount(before - 1);
});
