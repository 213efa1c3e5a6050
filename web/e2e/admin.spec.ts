// The dashboard in a real browser against a real `iaso serve --demo`: log in, roles, users,
// projects, a new user changing password and language, password reset by e-mail, account
// switch. Screenshots of each page at 1366×768 go to $IASO_E2E_SCREENSHOTS (web/screenshots).
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DEMO_PASSWORD = process.env.IASO_DEMO_PASSWORD ?? '';
const ROOT_USER = process.env.IASO_E2E_SUPERUSER ?? '';
const ROOT_PASSWORD = process.env.IASO_E2E_SUPERUSER_PASSWORD ?? '';
const MAIL_DIR = process.env.IASO_E2E_MAIL_DIR ?? '';
const SHOTS = process.env.IASO_E2E_SCREENSHOTS ?? 'screenshots';
mkdirSync(SHOTS, { recursive: true });

const AMINA = { username: 'amina', email: 'amina@example.org', first: 'first-Passw0rd!', second: 'second-Passw0rd!', third: 'third-Passw0rd!' };

test.describe.configure({ mode: 'serial' });

async function shot(page: Page, name: string): Promise<void> {
  // Let transitions and the progress bar settle.
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function login(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/login');
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.locator('form button[type="submit"]').click();
  await expect(page.locator('.topbar-title')).toBeVisible();
}

async function token(request: APIRequestContext, username: string, password: string): Promise<string> {
  const r = await request.post('/api/token/', { data: { username, password } });
  expect(r.status(), await r.text()).toBe(200);
  return (await r.json()).access as string;
}

/** The reset or invitation link last mailed to `username` (mail_mode = folder), as a path. */
async function mailedLink(username: string): Promise<string> {
  let link = '';
  await expect
    .poll(() => {
      for (const f of readdirSync(MAIL_DIR).sort()) {
        const text = readFileSync(join(MAIL_DIR, f), 'utf8')
          // Quoted-printable: soft line breaks, then =XX escapes.
          .replace(/=\r?\n/g, '')
          .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
        const m = text.match(/https?:\/\/[^\s]+\/reset-password\/\?token=[A-Za-z0-9_=-]+/);
        const forUser = text.includes(`Hello ${username},`) || text.includes(`the username ${username}.`);
        if (m && forUser) link = m[0];
      }
      return link;
    })
    .not.toBe('');
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
}

test('log in: wrong password is refused in words, then the home page', async ({ page }) => {
  expect(DEMO_PASSWORD, 'IASO_DEMO_PASSWORD must be set').not.toBe('');
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
  await shot(page, '01-login');

  await page.locator('#username').fill('demo');
  await page.locator('#password').fill('not-the-password');
  await page.locator('form button[type="submit"]').click();
  await expect(page.locator('[data-test="login-error"]')).toHaveText('Wrong username or password.');
  await shot(page, '02-login-error');

  await page.locator('#password').fill(DEMO_PASSWORD);
  await page.locator('form button[type="submit"]').click();
  await expect(page.locator('.topbar-title')).toHaveText('Home');
  await expect(page.getByRole('heading', { name: 'Welcome, Demo' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Users' })).toBeVisible();
  await shot(page, '03-home');
});

test('create a role with permissions', async ({ page }) => {
  await login(page, 'demo', DEMO_PASSWORD);
  await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'User roles' }).click();
  await expect(page.locator('.topbar-title')).toHaveText('User roles');
  await expect(page.getByText('No role yet.')).toBeVisible();
  await shot(page, '04-roles-empty');

  await page.locator('[data-test="create-role"]').click();
  const dialog = page.getByRole('dialog');
  await expect(dialog.getByRole('heading', { name: 'New role' })).toBeVisible();
  await dialog.locator('#role-name').fill('Supervisors');
  await dialog.locator('input[data-code="iaso_projects"]').check();
  await dialog.locator('input[data-code="iaso_forms"]').check();
  await shot(page, '05-role-dialog');
  await dialog.locator('[data-test="save-role"]').click();
  await expect(page.getByText('Role created.')).toBeVisible();
  await expect(page.locator('.dt-body')).toContainText('Supervisors');
  await expect(page.locator('.dt-body')).toContainText('2 permissions');

  // A duplicate name is refused by the server, in words, next to the field.
  await page.locator('[data-test="create-role"]').click();
  await dialog.locator('#role-name').fill('supervisors');
  await dialog.locator('[data-test="save-role"]').click();
  await expect(dialog.locator('.field-error')).toBeVisible();
  await shot(page, '06-role-duplicate');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await shot(page, '07-roles');
});

test('create a user with that role, then find it with the filters', async ({ page }) => {
  await login(page, 'demo', DEMO_PASSWORD);
  await page.goto('/users');
  await expect(page.locator('.dt-body')).toContainText('demo');
  await shot(page, '08-users');

  await page.locator('[data-test="create-user"]').click();
  const dialog = page.getByRole('dialog');
  await dialog.locator('#u-username').fill(AMINA.username);
  await dialog.locator('#u-first').fill('Amina');
  await dialog.locator('#u-last').fill('Diallo');
  await dialog.locator('#u-email').fill(AMINA.email);
  await dialog.locator('#u-password').fill(AMINA.first);
  await shot(page, '09-user-dialog');
  await dialog.locator('[data-test="tab-permissions"]').click();
  await dialog.locator('input[data-role="Supervisors"]').check();
  // What the role gives shows as inherited.
  await expect(dialog.locator('input[data-code="iaso_projects"]')).toBeDisabled();
  await expect(dialog.locator('input[data-code="iaso_projects"]')).toBeChecked();
  await shot(page, '10-user-dialog-permissions');
  await dialog.locator('[data-test="save-user"]').click();
  await expect(page.getByText('User created.')).toBeVisible();
  await expect(page.locator('.dt-body')).toContainText('amina');
  await expect(page.locator('.dt-body')).toContainText('Supervisors');

  await page.getByPlaceholder('Search users').fill('ami');
  await expect(page).toHaveURL(/search=ami/);
  await expect(page.locator('.dt-body .dt-row')).toHaveCount(1);
  await page.getByPlaceholder('Search users').fill('nobody-like-this');
  await expect(page.getByText('No user matches these filters.')).toBeVisible();
  await page.getByPlaceholder('Search users').fill('');
  await page.getByRole('button', { name: /^Roles:/ }).click();
  await page.getByRole('group', { name: 'Roles' }).getByLabel('Supervisors').check();
  await expect(page).toHaveURL(/user_roles=\d+/);
  await expect(page.locator('.dt-body .dt-row')).toHaveCount(1);
  await expect(page.locator('.dt-body')).toContainText('amina');
  await shot(page, '11-users-filtered');

  // Edit: restrict amina to the demo project.
  await page.getByRole('button', { name: 'Edit amina' }).click();
  await expect(dialog.locator('#u-username')).toHaveValue('amina');
  await dialog.locator('[data-test="tab-projects"]').click();
  await dialog.getByLabel(/Main Project/).check();
  await dialog.locator('[data-test="save-user"]').click();
  await expect(page.getByText('User saved.')).toBeVisible();
  await expect(page.locator('.dt-body')).toContainText('Main Project');
});

test('invite a user by e-mail, then delete another', async ({ page }) => {
  test.skip(!MAIL_DIR, 'IASO_E2E_MAIL_DIR not set (mail_mode=folder)');
  await login(page, 'demo', DEMO_PASSWORD);
  await page.goto('/users');
  await page.locator('[data-test="create-user"]').click();
  const dialog = page.getByRole('dialog');
  await dialog.locator('#u-username').fill('bintou');
  await dialog.locator('[data-test="save-user"]').click();
  // Neither a password nor an invitation: said before anything is sent.
  await expect(dialog.getByText('Enter a password, or send an invitation by e-mail.')).toBeVisible();
  await dialog.locator('[data-test="invitation"]').check();
  await dialog.locator('[data-test="save-user"]').click();
  // The server wants an address to send the invitation to.
  await expect(dialog.getByText('An e-mail address is needed to send an invitation.')).toBeVisible();
  await dialog.locator('#u-email').fill('bintou@example.org');
  await dialog.locator('[data-test="save-user"]').click();
  await expect(page.getByText('User created.')).toBeVisible();

  const link = await mailedLink('bintou');
  await page.locator('[data-test="user-menu"]').click();
  await page.locator('[data-test="logout"]').click();
  await page.goto(link);
  // The server's password rules, in its words, and the link still works after a refusal.
  await page.locator('#new-password').fill('bintou-Passw0rd!');
  await page.locator('#confirm-password').fill('bintou-Passw0rd!');
  await page.getByRole('button', { name: 'Save the password' }).click();
  await expect(page.getByText('The password is too similar to the username.')).toBeVisible();
  await page.locator('#new-password').fill('Sahel-Passw0rd!');
  await page.locator('#confirm-password').fill('Sahel-Passw0rd!');
  await page.getByRole('button', { name: 'Save the password' }).click();
  await expect(page.getByText('Your password was changed.')).toBeVisible();
  await login(page, 'bintou', 'Sahel-Passw0rd!');
  await expect(page.getByRole('heading', { name: 'Welcome, bintou' })).toBeVisible();
  // The login page is for logged-out visitors: logged in, it leads home.
  await page.goto('/login');
  await expect(page.locator('.topbar-title')).toHaveText('Home');
  await page.locator('[data-test="user-menu"]').click();
  await page.locator('[data-test="logout"]').click();
  // The logout is done once the login page shows (on a busy machine, later than the click).
  await expect(page.locator('#username')).toBeVisible();

  await login(page, 'demo', DEMO_PASSWORD);
  await page.goto('/users?search=bintou');
  await page.getByRole('button', { name: 'Delete bintou' }).click();
  await expect(page.getByRole('dialog').getByText('Delete bintou?')).toBeVisible();
  await shot(page, '12-user-delete');
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByText('bintou was deleted.')).toBeVisible();
  await expect(page.getByText('No user matches these filters.')).toBeVisible();
});

test('create a project with a feature flag', async ({ page }) => {
  await login(page, 'demo', DEMO_PASSWORD);
  await page.goto('/projects');
  await expect(page.locator('.dt-body')).toContainText('demo');
  await page.locator('[data-test="create-project"]').click();
  const dialog = page.getByRole('dialog');
  await dialog.locator('#p-name').fill('Vaccination survey');
  await dialog.locator('#p-app').fill('org.example.vaccination');
  await dialog.getByLabel('GPS tracking').check();
  await shot(page, '13-project-dialog');
  await dialog.locator('[data-test="save-project"]').click();
  await expect(page.getByText('Project created.')).toBeVisible();
  await expect(page.locator('.dt-body')).toContainText('org.example.vaccination');
  await expect(page.locator('.dt-body')).toContainText('GPS tracking');
  await shot(page, '14-projects');
});

test('the new user logs in, changes password, switches to French and logs out', async ({ page }) => {
  await login(page, AMINA.username, AMINA.first);
  const menu = page.getByRole('navigation', { name: 'Main menu' });
  await expect(menu.getByRole('link', { name: 'Projects' })).toBeVisible();
  await expect(menu.getByRole('link', { name: 'Users' })).toHaveCount(0);
  await shot(page, '15-home-new-user');

  await page.goto('/users');
  await expect(page.getByText('No access')).toBeVisible();
  await shot(page, '16-forbidden');

  await page.locator('[data-test="user-menu"]').click();
  await page.getByRole('menuitem', { name: 'My profile' }).click();
  await expect(page.locator('.topbar-title')).toHaveText('My profile');
  const pw = page.locator('[data-test="password-form"]');
  await pw.locator('#new-password').fill(AMINA.second);
  await pw.locator('#confirm-password').fill('something else');
  await pw.getByRole('button', { name: 'Change the password' }).click();
  await expect(pw.getByText('The two passwords differ.')).toBeVisible();
  await pw.locator('#confirm-password').fill(AMINA.second);
  await pw.getByRole('button', { name: 'Change the password' }).click();
  await expect(page.getByText('Your password was changed.')).toBeVisible();
  await shot(page, '17-profile');

  // The browser session survives its own password change.
  await page.reload();
  await expect(page.locator('.topbar-title')).toHaveText('My profile');

  await page.locator('.topbar select[data-test="language"]').selectOption('fr');
  await expect(page.locator('.topbar-title')).toHaveText('Mon profil');
  await page.getByRole('navigation', { name: 'Menu principal' }).getByRole('link', { name: 'Accueil' }).click();
  await expect(page.getByRole('heading', { name: 'Bienvenue, Amina' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Menu principal' }).getByRole('link', { name: 'Projets' })).toBeVisible();
  await shot(page, '18-home-french');

  await page.locator('[data-test="user-menu"]').click();
  await page.getByRole('menuitem', { name: 'Se déconnecter' }).click();
  await expect(page.getByRole('heading', { name: 'Connexion' })).toBeVisible();
  await shot(page, '19-login-french');

  // The old password no longer works; the new one does, and French comes back with the profile.
  await page.locator('#username').fill(AMINA.username);
  await page.locator('#password').fill(AMINA.first);
  await page.locator('form button[type="submit"]').click();
  await expect(page.locator('[data-test="login-error"]')).toHaveText("Nom d'utilisateur ou mot de passe incorrect.");
  await page.locator('#password').fill(AMINA.second);
  await page.locator('form button[type="submit"]').click();
  await expect(page.locator('.topbar-title')).toHaveText('Accueil');
  await page.locator('[data-test="user-menu"]').click();
  await page.getByRole('menuitem', { name: 'Se déconnecter' }).click();
  await expect(page.locator('#username')).toBeVisible();
});

test('forgot password: the mailed link sets a new password', async ({ page }) => {
  test.skip(!MAIL_DIR, 'IASO_E2E_MAIL_DIR not set (mail_mode=folder)');
  await page.goto('/login');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.locator('#email').fill(AMINA.email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByText('If this address belongs to a user')).toBeVisible();
  await shot(page, '20-forgot-password');

  const url = new URL(await mailedLink('amina'), 'http://x');
  await page.goto(`${url.pathname}${url.search}`);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  await page.locator('#new-password').fill(AMINA.third);
  await page.locator('#confirm-password').fill(AMINA.third);
  await shot(page, '21-reset-password');
  await page.getByRole('button', { name: 'Save the password' }).click();
  await expect(page.getByText('Your password was changed.')).toBeVisible();

  // The link works once.
  await page.goto(`${url.pathname}${url.search}`);
  await page.locator('#new-password').fill('fourth-Passw0rd!');
  await page.locator('#confirm-password').fill('fourth-Passw0rd!');
  await page.getByRole('button', { name: 'Save the password' }).click();
  await expect(page.getByText('This link is invalid, expired or was already used.')).toBeVisible();

  await login(page, AMINA.username, AMINA.third);
  await expect(page.locator('.topbar-title')).toHaveText('Accueil');
});

test('account switch between two accounts of one login', async ({ page, request }) => {
  test.skip(!ROOT_USER, 'IASO_E2E_SUPERUSER not set');
  // A superuser creates a second account whose administrator adds the demo login to it.
  const root = await token(request, ROOT_USER, ROOT_PASSWORD);
  const setup = await request.post('/api/setupaccount/', {
    headers: { Authorization: `Bearer ${root}` },
    data: { account_name: 'Second account', user_username: 'second_admin', password: 'second-admin-Passw0rd', modules: ['DEFAULT', 'DATA_COLLECTION_FORMS'] },
  });
  expect(setup.status(), await setup.text()).toBe(201);
  const admin = await token(request, 'second_admin', 'second-admin-Passw0rd');
  const join_ = await request.post('/api/profiles/', {
    headers: { Authorization: `Bearer ${admin}` },
    data: { user_name: 'demo', user_permissions: ['iaso_users'] },
  });
  expect(join_.status(), await join_.text()).toBe(201);

  await login(page, 'demo', DEMO_PASSWORD);
  const select = page.locator('[data-test="account-switch"]');
  await expect(select.locator('option')).toHaveCount(2);
  await select.selectOption({ label: 'Second account' });
  await expect(page.getByText('You are now working in Second account.')).toBeVisible();
  await expect(page.getByText('Account: Second account')).toBeVisible();
  // Only the permission given in that account: users, not roles or projects.
  const menu = page.getByRole('navigation', { name: 'Main menu' });
  await expect(menu.getByRole('link', { name: 'Users' })).toBeVisible();
  await expect(menu.getByRole('link', { name: 'Projects' })).toHaveCount(0);
  await shot(page, '22-account-switched');
  await select.selectOption({ label: 'Demo' });
  await expect(page.getByText('Account: Demo')).toBeVisible();
});

test('unknown page, and the API keeps JSON 404s', async ({ page, request }) => {
  await login(page, 'demo', DEMO_PASSWORD);
  await page.goto('/no/such/page');
  await expect(page.getByText('There is no page at this address.')).toBeVisible();
  await shot(page, '23-not-found');
  const r = await request.get('/api/no-such-endpoint/');
  expect(r.status()).toBe(404);
  expect(await r.json()).toEqual({ detail: 'Not found.' });
});
