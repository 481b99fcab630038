// First visit on a slow phone, measured in Chromium (scripts/first-visit-bench.sh).
//
// A signed-in person with an empty cache opens someone's profile over a slow network (1.6 Mbps
// down, 750 kbps up, 150 ms round trip) on a 4x slower CPU, then clicks Follow. Reports the
// bytes sent over the wire by kind, and the time from the start of navigation to the page being
// hydrated (the Follow button works in place) and to the click's result. Then it visits again
// with a warm cache and reports what that downloads. Prints one JSON line.
//
//   node end2end/bench/first-visit.mjs BASE_URL [RUNS] [identity]
//
// With `identity` the browser asks for every response uncompressed (Accept-Encoding:
// identity): the bytes main sent before compression, from the same build.
import { chromium } from '@playwright/test';

const base = process.argv[2];
const runs = Number(process.argv[3] ?? 3);
const uncompressed = process.argv[4] === 'identity';
const password = 'correct horse battery';

async function registerVia(request, name) {
  const response = await request.post(`${base}/api/register`, {
    headers: { Origin: base, Accept: 'application/json' },
    form: { username: name, email: `${name}@example.com`, password, password2: password },
  });
  if (!response.ok()) throw new Error(`register ${name}: ${response.status()} ${await response.text()}`);
}

function kindOf(url) {
  if (url.endsWith('.wasm')) return 'wasm';
  if (url.endsWith('.js')) return 'js';
  if (url.endsWith('.css')) return 'css';
  if (url.includes('/api/')) return 'api';
  if (url.includes('gravatar')) return 'avatar';
  if (url.endsWith('.ico')) return 'favicon';
  return 'html';
}

async function visit(browser, stamp, run) {
  const followed = `fv${stamp}t${run}`;
  const reader = `fv${stamp}r${run}`;
  const context = await browser.newContext();
  await registerVia(context.request, followed);
  await context.request.post(`${base}/api/logout`, { headers: { Origin: base, Accept: 'application/json' } });
  await registerVia(context.request, reader);

  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  // Gravatar is on the internet, which this machine cannot reach. Blocked rather than routed:
  // Playwright's routing would turn the HTTP cache off, and the warm visit measures the cache.
  await cdp.send('Network.setBlockedURLs', { urls: ['*gravatar.com*'] });
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
  if (uncompressed) await cdp.send('Network.setExtraHTTPHeaders', { headers: { 'Accept-Encoding': 'identity' } });
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1024 * 1024) / 8,
    uploadThroughput: (750 * 1024) / 8,
  });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  const urls = new Map();
  const bytes = {};
  cdp.on('Network.requestWillBeSent', (event) => urls.set(event.requestId, event.request.url));
  cdp.on('Network.loadingFinished', (event) => {
    const kind = kindOf(urls.get(event.requestId) ?? '');
    bytes[kind] = (bytes[kind] ?? 0) + event.encodedDataLength;
  });

  const started = Date.now();
  await page.goto(`${base}/user/${followed}`);
  await page.locator('body[data-hydrated="true"]').waitFor({ timeout: 120_000 });
  const hydratedMs = Date.now() - started;
  await page.getByRole('button', { name: 'Follow' }).click();
  await page.getByRole('button', { name: 'Unfollow' }).waitFor({ timeout: 60_000 });
  const followedMs = Date.now() - started;
  const firstBytes = { ...bytes };

  for (const key of Object.keys(bytes)) delete bytes[key];
  await page.goto(`${base}/explore`);
  await page.locator('body[data-hydrated="true"]').waitFor({ timeout: 120_000 });
  const warmBytes = { ...bytes };
  await context.close();
  const total = (counts) => Object.entries(counts).filter(([kind]) => kind !== 'avatar' && kind !== 'api').reduce((sum, [, n]) => sum + n, 0);
  return { hydratedMs, followedMs, firstBytes, firstTotal: total(firstBytes), warmBytes, warmTotal: total(warmBytes) };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const stamp = Date.now().toString(36);
const results = [];
for (let run = 0; run < runs; run += 1) results.push(await visit(browser, stamp, run));
await browser.close();
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(JSON.stringify({
  runs,
  encoding: uncompressed ? 'identity' : 'br/gzip',
  hydrated_ms_median: median(results.map((r) => r.hydratedMs)),
  follow_done_ms_median: median(results.map((r) => r.followedMs)),
  first_visit_bytes: results[0].firstBytes,
  first_visit_total: results[0].firstTotal,
  warm_visit_bytes: results[0].warmBytes,
  warm_visit_total: results[0].warmTotal,
  each: results.map((r) => [r.hydratedMs, r.followedMs]),
}));
