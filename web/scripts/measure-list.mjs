// Measures the users list with many users: seeds N users through the API (if fewer exist),
// opens /users with 500 rows a page in Chromium, scrolls through the page and reports frame
// times, and times the server's page answers. Not part of CI (it takes a minute); results are
// noted in web/README.md.
//
//   IASO_URL=http://127.0.0.1:8081 IASO_USER=demo IASO_PASSWORD=... node scripts/measure-list.mjs [N]
import { chromium } from 'playwright-core';

const base = process.env.IASO_URL ?? 'http://127.0.0.1:8081';
const user = process.env.IASO_USER ?? 'demo';
const password = process.env.IASO_PASSWORD ?? '';
const wanted = Number(process.argv[2] ?? 12000);

const tok = await (await fetch(`${base}/api/token/`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: user, password }),
})).json();
const auth = { Authorization: `Bearer ${tok.access}`, 'Content-Type': 'application/json' };
const count = async () => (await (await fetch(`${base}/api/profiles/?limit=1`, { headers: auth })).json()).count;

let have = await count();
if (have < wanted) {
  const t0 = Date.now();
  let next = have;
  const worker = async () => {
    while (next < wanted) {
      const i = next++;
      const r = await fetch(`${base}/api/profiles/`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ user_name: `load_${i}`, first_name: `First${i}`, last_name: `Last${i}`, email: `load_${i}@example.org` }),
      });
      if (r.status !== 201) throw new Error(`${r.status} ${await r.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  have = await count();
  console.log(`seeded to ${have} users in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

for (const page of [1, Math.floor(have / 500)]) {
  const t0 = performance.now();
  const r = await fetch(`${base}/api/profiles/?limit=500&page=${page}&order=user__username`, { headers: auth });
  await r.json();
  console.log(`API page ${page} of 500 users (of ${have}): ${(performance.now() - t0).toFixed(0)} ms`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
await page.goto(`${base}/login`);
await page.locator('#username').fill(user);
await page.locator('#password').fill(password);
await page.locator('form button[type="submit"]').click();
await page.locator('.topbar-title').waitFor();
const t0 = Date.now();
await page.goto(`${base}/users?limit=500`);
await page.locator('.dt-body .dt-row').first().waitFor();
console.log(`/users?limit=500 shown in ${Date.now() - t0} ms; rows in the DOM: ${await page.locator('.dt-body .dt-row').count()}`);
const frames = await page.evaluate(async () => {
  const body = document.querySelector('.dt-body');
  const deltas = [];
  let last = performance.now();
  const total = body.scrollHeight - body.clientHeight;
  for (let i = 0; i <= 120; i++) {
    body.scrollTop = (total * i) / 120;
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    deltas.push(now - last);
    last = now;
  }
  deltas.sort((a, b) => a - b);
  return { median: deltas[60], p95: deltas[114], max: deltas[120] };
});
console.log(`scrolling 500 rows in 120 steps: frame median ${frames.median.toFixed(1)} ms, p95 ${frames.p95.toFixed(1)} ms, max ${frames.max.toFixed(1)} ms`);
await page.goto(`${base}/users?limit=20&search=load_1199`);
await page.locator('.dt-body .dt-row').first().waitFor();
console.log(`search "load_1199": ${await page.locator('.dt-body .dt-row').count()} rows`);
await browser.close();
