// Forms and submissions against `iaso serve --demo`: create a form, upload an XLSForm (a bad
// one first: the converter's message is shown in place), fill it in the browser with ODK Web
// Forms and send it, find the submission in the list and on the map, open it, change its
// period, export the form's submissions as CSV. Screenshots at 1366×768 in $IASO_E2E_SCREENSHOTS.
import { expect, test, type Page } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DEMO_PASSWORD = process.env.IASO_DEMO_PASSWORD ?? '';
const SHOTS = process.env.IASO_E2E_SCREENSHOTS ?? 'screenshots';
mkdirSync(SHOTS, { recursive: true });

test.describe.configure({ mode: 'serial' });
// The form's geopoint question asks the browser for the position.
test.use({ geolocation: { latitude: -4.3123, longitude: 15.2841, accuracy: 6 }, permissions: ['geolocation'] });

async function shot(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function login(page: Page): Promise<void> {
  await page.addInitScript(() => localStorage.setItem('iaso.map.background', 'none'));
  await page.goto('/login');
  await page.locator('#username').fill('demo');
  await page.locator('#password').fill(DEMO_PASSWORD);
  await page.locator('form button[type="submit"]').click();
  await expect(page.locator('.topbar-title')).toBeVisible();
}

/** Ticks "Main Project" in the dialog's project picker unless it is already chosen. */
async function chooseProject(page: Page): Promise<void> {
  const dialog = page.getByRole('dialog');
  const button = dialog.getByRole('button', { name: /^Projects:/ });
  if ((await button.getAttribute('aria-label'))?.includes('Main Project')) return;
  await button.click();
  await dialog.getByRole('group', { name: 'Projects' }).getByLabel('Main Project').check();
  await dialog.getByRole('group', { name: 'Projects' }).getByRole('button', { name: 'Close' }).click();
}

const stamp = Date.now().toString(36);
const FORM_NAME = `Water point ${stamp}`;
const ANSWER = `Borehole ${stamp}`;

/** A small XLSForm as CSV (the converter reads .csv like .xlsx). */
function xlsform(questionName: string): string {
  return [
    'survey,,,,',
    ',type,name,label,required',
    `,text,${questionName},Name of the water point,yes`,
    ',integer,depth,Depth (m),',
    ',select_one yn,working,Is it working?,',
    ',geopoint,gps,Location,',
    'choices,,,,',
    ',list_name,name,label,',
    ',yn,yes,Yes,',
    ',yn,no,No,',
    'settings,,,,',
    ',form_title,form_id,version,',
    `,Water point,water_point_${stamp},2024060101,`,
    '',
  ].join('\n');
}

let formUrl = '';

test('forms: create a form, a refused XLSForm, then a version', async ({ page }) => {
  await login(page);
  await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Forms' }).click();
  await expect(page.locator('.topbar-title')).toHaveText('Forms');
  await expect(page.locator('.dt-body')).toContainText('Site visit');
  await shot(page, '50-forms');

  await page.locator('[data-test="create-form"]').click();
  const dialog = page.getByRole('dialog');
  await dialog.locator('#fm-name').fill(FORM_NAME);
  await dialog.locator('#fm-location').fill('gps');
  // Forms belong to projects (preselected when the account has just one; other tests add some).
  await chooseProject(page);
  await shot(page, '51-form-dialog');
  await dialog.locator('[data-test="save-form"]').click();
  await expect(dialog).toHaveCount(0);
  await page.locator('[data-test="filters-reset"], .filters input[type="search"]').first().isVisible();
  await page.getByRole('link', { name: FORM_NAME }).click();
  await expect(page.locator('[data-test="form-name"]')).toHaveText(FORM_NAME);
  formUrl = page.url();

  // A name the converter refuses: its message, in words, next to the upload.
  await page.locator('[data-test="xls-file"]').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(xlsform('1bad')) });
  await page.locator('[data-test="upload-version"]').click();
  await expect(page.locator('[data-test="upload-error"]')).toContainText('Names must begin with a letter');
  await shot(page, '52-form-version-refused');

  await page.locator('[data-test="xls-file"]').setInputFiles({ name: 'water_point.csv', mimeType: 'text/csv', buffer: Buffer.from(xlsform('wp_name')) });
  await page.locator('[data-test="upload-version"]').click();
  await expect(page.locator('[data-test="versions"]')).toContainText('2024060101');
  await expect(page.locator('[data-test="upload-error"]')).toHaveCount(0);
  await expect(page.locator('[data-test="versions"]').getByRole('link', { name: 'XForm' })).toHaveAttribute('href', /\/files\/forms\/.*\.xml\?s=/);
  await shot(page, '53-form-versions');
  await page.locator('[data-test="tab-attachments"]').click();
  await expect(page.getByText('No attachment.')).toBeVisible();
});

test('fill: answer in ODK Web Forms, send, find it in the list, on the map, open it, export', async ({ page }) => {
  test.skip(!formUrl, 'the form was not created');
  await login(page);
  await page.goto(formUrl);
  await page.locator('[data-test="fill-form"]').click();
  const odk = page.locator('[data-test="odk-form"]');
  await expect(odk.locator('.odk-form')).toBeVisible({ timeout: 30_000 });

  // Sending without an org unit: refused in words, the answers stay.
  await odk.getByLabel('Name of the water point').fill(ANSWER);
  await odk.getByRole('button', { name: 'Send' }).click();
  await expect(page.locator('[data-test="send-error"]')).toContainText('Choose the org unit');

  await page.locator('[data-test="fill-org-unit"]').click();
  const picker = page.getByRole('dialog');
  await picker.getByRole('treeitem').first().locator('.ou-tree-name').click();
  await picker.locator('[data-test="picker-ok"]').click();
  await expect(picker).toHaveCount(0);
  const unitName = (await page.locator('[data-test="fill-org-unit"]').innerText()).trim();

  await odk.locator('.p-inputnumber input').pressSequentially('42');
  await odk.getByText('Yes', { exact: true }).click();
  await odk.getByRole('button', { name: 'Get location' }).click();
  await page.getByRole('button', { name: 'Save location' }).click();
  await expect(odk.getByText(/-4\.31/).first()).toBeVisible();
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, '54-form-fill');
  await odk.getByRole('button', { name: 'Send' }).click();
  await expect(page.locator('[data-test="sent"]')).toContainText('1 submission sent');
  await expect(page.locator('[data-test="send-error"]')).toHaveCount(0);

  // The list of the form's submissions.
  await page.locator('[data-test="see-submissions"]').click();
  await expect(page.locator('.topbar-title')).toHaveText('Submissions');
  const row = page.locator('.dt-body .dt-row').first();
  await expect(row).toContainText(unitName);
  await expect(page.locator('.dt-body .dt-row')).toHaveCount(1);
  await shot(page, '55-submissions');

  // On the map: one located point, in the middle after the fit; its popup links to it.
  await page.locator('[data-test="submissions-map"]').click();
  await expect(page.locator('[data-test="map-count"]')).toHaveText('1 located submission');
  await page.waitForTimeout(500);
  const box = (await page.locator('[data-test="submissions-map-canvas"]').boundingBox())!;
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await expect(page.locator('.map-popup')).toContainText(unitName);
  await shot(page, '56-submissions-map');

  // The detail: answers with the form's labels and choice labels, org unit, history.
  await page.locator('[data-test="map-open"]').click();
  await expect(page.locator('[data-test="submission-title"]')).toContainText(FORM_NAME);
  await expect(page.locator('.answers')).toContainText('Name of the water point');
  await expect(page.locator('.answers')).toContainText(ANSWER);
  await expect(page.locator('.answers')).toContainText('Yes');
  await expect(page.locator('.answers')).toContainText('42');
  await expect(page.locator('[data-test="info-org-unit"]')).toHaveText(unitName);
  await expect(page.locator('[data-test="history"] li')).toHaveCount(1);
  await shot(page, '57-submission');

  // Lock it, then delete and restore it.
  await page.locator('[data-test="lock"]').click();
  await expect(page.getByText('Submission locked at your level.')).toBeVisible();
  await expect(page.locator('[data-test="locked-chip"]')).toBeVisible();
  await page.locator('[data-test="delete"]').click();
  await expect(page.locator('[data-test="deleted-chip"]')).toBeVisible();
  await page.locator('[data-test="restore"]').click();
  await expect(page.locator('[data-test="deleted-chip"]')).toHaveCount(0);

  // Export the form's submissions as CSV: the answer is in the file.
  await page.goBack();
  await page.goBack();
  await page.goto(page.url().replace('/submissions/map', '/submissions'));
  await page.locator('[data-test="export"]').click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test="export-csv"]').click()]);
  const text = readFileSync(await download.path(), 'utf8');
  expect(text).toContain(ANSWER);
  expect(text).toContain(unitName);
});

test('submissions: every form, filters, selection and the French labels', async ({ page }) => {
  await login(page);
  await page.goto('/submissions');
  await expect(page.locator('.dt-body .dt-row').first()).toBeVisible();
  // Exports need one form.
  await page.locator('[data-test="export"]').click();
  await expect(page.locator('[data-test="export-one-form"]')).toBeVisible();
  await page.keyboard.press('Escape');
  await page.locator('.dt-body .dt-row').first().locator('input[type="checkbox"]').check();
  await expect(page.locator('[data-test="selected-count"]')).toHaveText('1 selected');
  await page.goto('/submissions?status=EXPORTED');
  await expect(page.getByText('No submission matches these filters.')).toBeVisible();
  await shot(page, '58-submissions-empty');
  // The demo's Site visit submission: a repeat group and a photo with its preview.
  const demo = (await (await page.request.get('/api/instances/?search=ids:1&limit=1')).json()) as { instances: { id: number; form_name: string }[] };
  if (demo.instances[0]?.form_name === 'Site visit') {
    await page.goto('/submissions/1');
    await expect(page.locator('.answer-repeat')).toHaveCount(2);
    await expect(page.locator('.answer-repeat').first()).toContainText('Consultation');
    await expect(page.locator('.answers img.answer-image')).toBeVisible();
    await expect(page.locator('.attachment-grid img')).toBeVisible();
    await shot(page, '59-submission-repeats');
    await page.goto('/submissions?status=EXPORTED');
  }
  // The language is saved on the demo user's profile: wait for each save, or a later test
  // could find the dashboard in French.
  const profileSaved = () =>
    page.waitForResponse((r) => r.url().includes('/api/profiles/me') && r.request().method() !== 'GET' && r.ok());
  let saved = profileSaved();
  await page.getByLabel('Language').selectOption('fr');
  await saved;
  await expect(page.locator('.topbar-title')).toHaveText('Soumissions');
  await expect(page.getByText('Aucune soumission ne correspond à ces filtres.')).toBeVisible();
  saved = profileSaved();
  await page.getByLabel('Langue').selectOption('en');
  await saved;
  await expect(page.locator('.topbar-title')).toHaveText('Submissions');
});

test('edit answers: a demo submission changed in ODK Web Forms, then in its detail and history', async ({ page }) => {
  await login(page);
  const list = (await (await page.request.get('/api/instances/?limit=50&order=id')).json()) as { instances: { id: number; form_name: string }[] };
  const demo = list.instances.find((i) => i.form_name === 'Site visit');
  test.skip(!demo, 'no demo submission');
  const edited = `Edited site ${stamp}`;
  await page.goto(`/submissions/${demo!.id}`);
  await expect(page.locator('[data-test="submission-title"]')).toContainText('Site visit');
  const logs = `/api/logs/?contentType=iaso.instance&objectId=${demo!.id}&limit=50&page=1`;
  const historyBefore = ((await (await page.request.get(logs)).json()) as { count: number }).count;
  await page.locator('[data-test="edit-answers"]').click();
  const odk = page.locator('[data-test="odk-form"]');
  await expect(odk.locator('.odk-form')).toBeVisible({ timeout: 30_000 });
  // The stored answers are loaded: the site's name is there to change.
  const name = odk.getByLabel('Name of the site');
  const photos = await page.request.get(`/api/instances/attachments/?search=ids:${demo!.id}`);
  const photoCount = ((await photos.json()) as unknown[]).length;
  await expect(name).not.toHaveValue('');
  await name.fill(edited);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, '60-submission-edit');
  await odk.getByRole('button', { name: 'Send' }).click();
  // Back on the detail: the new answer, and the change in the history.
  await expect(page).toHaveURL(new RegExp(`/submissions/${demo!.id}$`));
  await expect(page.getByText('Answers saved.')).toBeVisible();
  await expect(page.locator('.answers').first()).toContainText(edited);
  await expect(page.locator('.answer-repeat').first()).toContainText('Consultation');
  await expect(page.locator('[data-test="history"] li')).toHaveCount(historyBefore + 1);
  await expect(page.locator('[data-test="history"] li').first()).toContainText('instance_api');
  // The photo the engine loaded with the answers is still attached.
  await expect(page.locator('.attachment-grid li')).toHaveCount(photoCount);
  await shot(page, '61-submission-edited');
});
