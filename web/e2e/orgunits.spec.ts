// Org units, sources, groups and tasks against `iaso serve --demo` and its synthetic country:
// browse the tree, filter the list, save a search, open a unit, edit it and find the change
// in its history, move its point on the map, open the map of the country, manage sources,
// groups and group sets, import a GeoPackage and follow its task, export CSV. Screenshots at
// 1366×768 in $IASO_E2E_SCREENSHOTS.
import { expect, test, type Page } from '@playwright/test';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DEMO_PASSWORD = process.env.IASO_DEMO_PASSWORD ?? '';
const SHOTS = process.env.IASO_E2E_SCREENSHOTS ?? 'screenshots';
const GPKG_DIR = process.env.IASO_E2E_GPKG_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '../../../shared/reference/iaso-data/iaso/tests/fixtures/gpkg');
mkdirSync(SHOTS, { recursive: true });

test.describe.configure({ mode: 'serial' });

async function shot(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function login(page: Page): Promise<void> {
  // The maps stay offline in tests: no tile requests to the outside.
  await page.addInitScript(() => localStorage.setItem('iaso.map.background', 'none'));
  await page.goto('/login');
  await page.locator('#username').fill('demo');
  await page.locator('#password').fill(DEMO_PASSWORD);
  await page.locator('form button[type="submit"]').click();
  await expect(page.locator('.topbar-title')).toBeVisible();
}

/** Whether the demo has a pyramid (the synthetic country). */
async function hasCountry(page: Page): Promise<boolean> {
  const r = await page.request.get('/api/orgunits/tree/');
  return r.ok() && ((await r.json()) as unknown[]).length > 0;
}

test('tree: open the levels, find a unit by name, open it', async ({ page }) => {
  await login(page);
  test.skip(!(await hasCountry(page)), 'the demo has no org units');
  await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Org units' }).click();
  await page.getByRole('link', { name: 'Tree' }).click();
  const tree = page.getByRole('tree');
  await expect(tree.getByRole('treeitem').first()).toContainText('Republic of Iasoland');
  await tree.getByRole('button', { name: 'Open Republic of Iasoland' }).click();
  await expect(tree.getByRole('treeitem', { level: 2 }).first()).toContainText('Region of');
  const region = (await tree.getByRole('treeitem', { level: 2 }).first().locator('.ou-tree-name').innerText()).trim();
  await tree.getByRole('button', { name: `Open ${region}` }).click();
  await expect(tree.getByRole('treeitem', { level: 3 }).first()).toContainText('District of');
  await tree.getByRole('treeitem', { level: 3 }).first().locator('.ou-tree-name').click();
  await expect(page.locator('.tree-detail h2')).toContainText('District of');
  await shot(page, '40-org-unit-tree');

  // Search by name opens the tree down to the unit.
  const district = (await page.locator('.tree-detail h2').innerText()).trim();
  await page.getByRole('button', { name: `Close Republic of Iasoland` }).click();
  await page.getByPlaceholder('Find a unit by name').fill(district.replace('District of ', ''));
  await page.getByRole('option', { name: new RegExp(district) }).first().click();
  await expect(tree.getByRole('treeitem', { selected: true })).toContainText(district);
  await page.locator('[data-test="tree-open"]').click();
  await expect(page.locator('[data-test="unit-name"]')).toHaveText(district);
});

test('list: filter by type, status and inside a unit, save the search, export CSV', async ({ page }) => {
  await login(page);
  test.skip(!(await hasCountry(page)), 'the demo has no org units');
  await page.goto('/orgunits');
  await expect(page.locator('.dt-body .dt-row').first()).toBeVisible();
  await shot(page, '41-org-units-list');
  const total = await page.locator('.pager-range').innerText();

  await page.getByRole('button', { name: /^Type:/ }).click();
  await page.getByRole('group', { name: 'Type' }).getByLabel('Region').check();
  await page.getByRole('group', { name: 'Type' }).getByRole('button', { name: 'Close' }).click();
  await expect(page).toHaveURL(/types=/);
  await expect(page.locator('.dt-body .dt-row').first()).toContainText('Region');
  await expect(page.locator('.pager-range')).not.toHaveText(total);

  // Inside a region: its districts.
  const region = (await page.locator('.dt-body .dt-row').first().locator('.strong-link').innerText()).trim();
  await page.getByRole('button', { name: /^Type:/ }).click();
  await page.getByRole('group', { name: 'Type' }).getByLabel('Region').uncheck();
  await page.getByRole('group', { name: 'Type' }).getByLabel('District').check();
  await page.getByRole('group', { name: 'Type' }).getByRole('button', { name: 'Close' }).click();
  await page.locator('[data-test="filter-parent"]').click();
  const dialog = page.getByRole('dialog');
  await dialog.getByPlaceholder('Find a unit by name').fill(region.replace('Region of ', ''));
  await dialog.getByRole('option', { name: new RegExp(region) }).first().click();
  await dialog.locator('[data-test="picker-ok"]').click();
  await expect(page).toHaveURL(/parent=\d+/);
  await expect(page.locator('[data-test="filter-parent"]')).toContainText(region);
  await expect(page.locator('.dt-body .dt-row').first()).toContainText(region);
  await shot(page, '42-org-units-filtered');

  // Save the search, reset, apply it again.
  await page.locator('[data-test="saved-searches"]').click();
  await page.locator('[data-test="save-search"]').click();
  await page.locator('#search-name').fill(`Districts of ${region}`);
  await page.locator('[data-test="save-search-ok"]').click();
  await expect(page.getByText(`Search “Districts of ${region}” saved.`)).toBeVisible();
  await page.locator('[data-test="filters-reset"]').click();
  await expect(page).not.toHaveURL(/parent=/);
  await page.locator('[data-test="saved-searches"]').click();
  await page.getByRole('menuitem', { name: `Districts of ${region}` }).click();
  await expect(page).toHaveURL(/parent=\d+/);
  await expect(page.locator('.dt-body .dt-row').first()).toContainText(region);

  // Export the filter as CSV, when the server has exports.
  const probe = await page.request.get('/api/orgunits/?csv=true&search=zzzz-nothing');
  if (probe.ok()) {
    await page.locator('[data-test="export"]').click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test="export-csv"]').click()]);
    const path = await download.path();
    const text = readFileSync(path, 'utf8');
    expect(text.split('\n').length).toBeGreaterThan(2);
    expect(text).toContain(region);
  }
});

test('unit: edit fields and groups, see the change in the history, move its point', async ({ page }) => {
  await login(page);
  test.skip(!(await hasCountry(page)), 'the demo has no org units');
  await page.goto('/orgunits?types=&search=CSPS');
  await page.locator('.dt-body .dt-row').first().locator('.strong-link').click();
  await expect(page.locator('[data-test="unit-name"]')).toBeVisible();
  const name = (await page.locator('[data-test="unit-name"]').innerText()).trim();
  await expect(page.getByRole('navigation', { name: 'Ancestors' })).toContainText('Republic of Iasoland');
  await shot(page, '43-org-unit-detail');

  await page.locator('#u-name').fill(`${name} (checked)`);
  await page.locator('#u-code').fill('E2E-42');
  await page.getByRole('button', { name: /^Groups:/ }).click();
  await page.getByRole('group', { name: 'Groups' }).getByLabel('Urban').check();
  await page.getByRole('group', { name: 'Groups' }).getByRole('button', { name: 'Close' }).click();
  await page.locator('[data-test="save-unit"]').click();
  await expect(page.getByText('Org unit saved.')).toBeVisible();
  await expect(page.locator('[data-test="unit-name"]')).toHaveText(`${name} (checked)`);

  await page.locator('[data-test="tab-history"]').click();
  const change = page.locator('.history-item').first();
  await expect(change.locator('tr', { hasText: 'Name' })).toContainText(name);
  await expect(change.locator('tr', { hasText: 'Name' }).locator('.after')).toHaveText(`${name} (checked)`);
  await expect(change.locator('tr', { hasText: 'Code' }).locator('.after')).toHaveText('E2E-42');
  await expect(change.locator('tr', { hasText: 'Groups' }).locator('.after')).toContainText('Urban');
  await shot(page, '44-org-unit-history');

  // Move the point: a click on the map places it there.
  await page.locator('[data-test="tab-map"]').click();
  const map = page.locator('[data-test="unit-map"]');
  await expect(map.locator('canvas').first()).toBeVisible();
  await page.locator('[data-test="edit-point"]').click();
  const box = (await map.boundingBox())!;
  await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.4);
  await page.locator('[data-test="save-geometry"]').click();
  await expect(page.getByText('Geometry saved.')).toBeVisible();
  await shot(page, '45-org-unit-map');
  await page.locator('[data-test="tab-history"]').click();
  await expect(page.locator('.history-item').first().locator('tr', { hasText: 'Location' })).toBeVisible();
});

test('map: the units of a filter, clustered', async ({ page }) => {
  await login(page);
  test.skip(!(await hasCountry(page)), 'the demo has no org units');
  await page.goto('/orgunits/map?types=');
  await expect(page.locator('[data-test="map-count"]')).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('[data-test="units-map"] canvas').first()).toBeVisible();
  await shot(page, '46-org-units-map');
});

test('sources: versions, default of the account; groups and group sets', async ({ page }) => {
  await login(page);
  await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Data sources' }).click();
  const card = page.locator('.source-card').first();
  await card.getByRole('button', { name: /^Versions of/ }).click();
  await expect(card.locator('[data-test="account-default"]')).toBeVisible();
  await card.locator('[data-test^="add-version-"]').click();
  await page.locator('#v-desc').fill('Made by the e2e test');
  await page.locator('[data-test="save-version"]').click();
  await expect(page.getByText(/Version \d+ created\./)).toBeVisible();
  await expect(card).toContainText('Made by the e2e test');
  await shot(page, '47-sources');

  await page.locator('[data-test="create-source"]').click();
  await page.locator('#s-name').fill('E2E source');
  // Imports need a source with a project (preselected only when the account has just one).
  const projects = page.getByRole('dialog').getByRole('button', { name: /^Projects:/ });
  if (!(await projects.getAttribute('aria-label'))?.includes('Main Project')) {
    await projects.click();
    await page.getByRole('dialog').getByRole('group', { name: 'Projects' }).getByLabel('Main Project').check();
    await page.getByRole('dialog').getByRole('group', { name: 'Projects' }).getByRole('button', { name: 'Close' }).click();
  }
  await page.locator('[data-test="save-source"]').click();
  await expect(page.getByText('Data source created.')).toBeVisible();
  await expect(page.locator('.source-card', { hasText: 'E2E source' })).toBeVisible();

  await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Groups' }).click();
  await page.locator('[data-test="create-group"]').click();
  await page.locator('#g-name').fill('E2E group');
  await page.locator('[data-test="save-group"]').click();
  await expect(page.getByText('Group created.')).toBeVisible();
  await page.getByRole('searchbox', { name: 'Search groups' }).fill('E2E');
  await expect(page.locator('.dt-body .dt-row')).toHaveCount(1);
  await shot(page, '48-groups');
  await page.getByRole('link', { name: 'Group sets' }).click();
  await page.locator('[data-test="create-groupset"]').click();
  await page.locator('#gs-name').fill('E2E set');
  await page.getByRole('button', { name: /^Groups:/ }).click();
  await page.getByRole('group', { name: 'Groups' }).getByLabel('E2E group').check();
  await page.getByRole('group', { name: 'Groups' }).getByRole('button', { name: 'Close' }).click();
  await page.locator('[data-test="save-groupset"]').click();
  await expect(page.getByText('Group set created.')).toBeVisible();
  await expect(page.locator('.dt-body .dt-row', { hasText: 'E2E set' })).toContainText('E2E group');
  await shot(page, '49-group-sets');
  await page.getByRole('button', { name: 'Delete E2E set' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByText('The group set E2E set was deleted.')).toBeVisible();
});

test('tasks: import a GeoPackage and follow it; a bad file says why; the list', async ({ page }) => {
  await login(page);
  const good = join(GPKG_DIR, 'minimal_simplified.gpkg');
  const bad = join(GPKG_DIR, 'null_name.gpkg');
  // The import endpoint answers 400 (no file) once it exists.
  const probe = await page.request.post('/api/tasks/create/importgpkg/', { multipart: { data_source: '0' } });
  test.skip(probe.status() === 404 || probe.status() === 405 || !existsSync(good), 'no import endpoint or no fixtures');
  await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Tasks' }).click();
  await page.locator('[data-test="import-units"]').click();
  const dialog = page.getByRole('dialog');
  await dialog.locator('[data-test="import-file"]').setInputFiles(good);
  await dialog.locator('#i-source').selectOption({ label: 'E2E source' });
  await shot(page, '50-import-dialog');
  await dialog.locator('[data-test="start-import"]').click();
  await expect(dialog.locator('[data-test="import-status"]')).toHaveText('Done', { timeout: 60_000 });
  await expect(dialog.locator('.form-success')).toBeVisible();
  await shot(page, '51-import-done');
  await dialog.getByRole('button', { name: 'Close' }).last().click();

  await page.locator('[data-test="import-units"]').click();
  await dialog.locator('[data-test="import-file"]').setInputFiles(bad);
  await dialog.locator('#i-source').selectOption({ label: 'E2E source' });
  await dialog.locator('[data-test="start-import"]').click();
  await expect(dialog.locator('[data-test="import-status"]')).toHaveText('Failed', { timeout: 60_000 });
  await expect(dialog.locator('.import-error')).toContainText(/name/i);
  await shot(page, '52-import-failed');
  await dialog.getByRole('button', { name: 'Close' }).last().click();

  await expect(page.locator('.dt-body .dt-row').first()).toContainText('Org unit import');
  await page.locator('[data-test="task-status"]').selectOption('SUCCESS');
  await expect(page.locator('.dt-body .dt-row').first()).toContainText('Done');
  await shot(page, '53-tasks');
});
