// Measures the org units map with many points: opens /orgunits/map for every unit of the
// demo country (at most 10 000 a load, the API's map-mode limit), then drags and zooms the map
// with the mouse while counting animation frames. Also times the list's long pages scrolled
// virtually. Not part of CI; results are noted in web/README.md.
//
//   IASO_URL=http://127.0.0.1:8081 IASO_USER=demo IASO_PASSWORD=... node scripts/measure-map.mjs
import { chromium } from 'playwright-core';

const base = process.env.IASO_URL ?? 'http://127.0.0.1:8081';
const user = process.env.IASO_USER ?? 'demo';
const password = process.env.IASO_PASSWORD ?? '';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
await page.addInitScript(() => localStorage.setItem('iaso.map.background', 'none'));
await page.goto(`${base}/login`);
await page.locator('#username').fill(user);
await page.locator('#password').fill(password);
await page.locator('form button[type="submit"]').click();
await page.locator('.topbar-title').waitFor();

const types = await (await page.request.get(`${base}/api/v2/orgunittypes/`)).json();
const facility = types.orgUnitTypes.reduce((a, b) => ((b.depth ?? 0) > (a.depth ?? 0) ? b : a));

const recorder = () =>
  page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    const tick = (now) => {
      window.__frames.push(now - last);
      last = now;
      if (window.__recording) requestAnimationFrame(tick);
    };
    window.__recording = true;
    requestAnimationFrame(tick);
  });
const stop = async () => {
  const d = await page.evaluate(() => {
    window.__recording = false;
    return window.__frames.slice(1);
  });
  d.sort((a, b) => a - b);
  const q = (p) => d[Math.min(d.length - 1, Math.floor(d.length * p))].toFixed(1);
  return `${d.length} frames: median ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${d[d.length - 1].toFixed(1)} ms, over 50 ms: ${d.filter((x) => x > 50).length}`;
};

const t0 = Date.now();
await page.goto(`${base}/orgunits/map?types=${facility.id}&status=all`);
await page.locator('[data-test="map-count"]').waitFor({ timeout: 120_000 });
const shown = await page.locator('[data-test="map-count"]').innerText();
console.log(`${facility.name}: ${shown} in ${Date.now() - t0} ms (navigation to drawn)`);
await page.waitForTimeout(1000);

const box = await page.locator('[data-test="units-map"]').boundingBox();
const cx = box.x + box.width / 2;
const cy = box.y + box.height / 2;
await recorder();
for (const [dx, dy] of [[250, 0], [-200, 150], [-50, -150]]) {
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await page.mouse.move(cx + dx, cy + dy, { steps: 30 });
  await page.mouse.up();
}
console.log(`dragging: ${await stop()}`);
await recorder();
for (let i = 0; i < 4; i++) {
  await page.mouse.move(cx + 40 * i, cy);
  await page.mouse.wheel(0, -300);
  await page.waitForTimeout(400);
}
for (let i = 0; i < 4; i++) {
  await page.mouse.wheel(0, 300);
  await page.waitForTimeout(400);
}
console.log(`zooming in and out: ${await stop()}`);
await page.waitForTimeout(1500);
console.log(`after the moves: ${await page.locator('[data-test="map-count"]').innerText()}`);

// The list: 500-row pages scrolled virtually.
const l0 = Date.now();
await page.goto(`${base}/orgunits?types=${facility.id}&status=all&limit=500&page=3`);
await page.locator('.dt-body .dt-row').first().waitFor();
console.log(`list page of 500 facilities shown in ${Date.now() - l0} ms; rows in the DOM: ${await page.locator('.dt-body .dt-row').count()}; ${await page.locator('.pager-range').innerText()}`);
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
await browser.close();
