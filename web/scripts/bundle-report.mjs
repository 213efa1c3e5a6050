// Prints the size of each file of web/dist, raw and gzipped, and the total for the first
// screen (index.html and what it loads before any route's own chunk). Writes nothing.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = new URL('../dist/', import.meta.url).pathname;

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const files = walk(dist).sort();
const gz = (p) => gzipSync(readFileSync(p), { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

const html = readFileSync(join(dist, 'index.html'), 'utf8');
// What index.html pulls in: its script, its stylesheets and modulepreloads.
const initial = new Set([join(dist, 'index.html')]);
for (const m of html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)) initial.add(join(dist, m[1]));

let total = 0;
console.log('web/dist (raw / gzip):');
for (const f of files) {
  const raw = statSync(f).size;
  const g = gz(f);
  const mark = initial.has(f) ? ' *' : '';
  if (initial.has(f)) total += g;
  console.log(`  ${relative(dist, f).padEnd(48)} ${kb(raw).padStart(10)} ${kb(g).padStart(10)}${mark}`);
}
console.log(`initial load (* = index.html + entry script + CSS), gzipped: ${kb(total)}`);
