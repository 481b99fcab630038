import { test, expect, gotoHydrated, watchConsole } from './helpers';

// What a first visit downloads: every byte counted as it came over the wire (compressed).
// The budget is what this build achieves plus a margin, so an accidental regression (a file
// sent uncompressed, a heavy new crate) fails here; BENCHMARKS.md has the measured figures.
const FIRST_VISIT_BUDGET_BYTES = 450_000;

test('a first visit is compressed, within its byte budget, and cached for the next one', async ({ browser }) => {
  // A context of its own, without the routes the other tests use to stand in for Gravatar:
  // routing turns Chromium's HTTP cache off. The sign-in pages show no avatar.
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleErrors = watchConsole(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map<string, string>();
  const encoded = new Map<string, number>();
  cdp.on('Network.requestWillBeSent', (event) => urls.set(event.requestId, event.request.url));
  cdp.on('Network.loadingFinished', (event) => {
    const url = urls.get(event.requestId) ?? '';
    encoded.set(url, (encoded.get(url) ?? 0) + event.encodedDataLength);
  });
  const responses: { url: string; headers: Record<string, string>; status: number }[] = [];
  page.on('response', async (response) => {
    responses.push({ url: response.url(), headers: await response.allHeaders(), status: response.status() });
  });

  await gotoHydrated(page, '/login');
  // Every asset has finished arriving (the stylesheet may still be on its way at hydration).
  await expect.poll(() => [...encoded.keys()].filter((url) => url.includes('/pkg/')).length).toBeGreaterThanOrEqual(3);

  const site = responses.filter((r) => !r.url.includes('gravatar'));
  const assets = site.filter((r) => r.url.includes('/pkg/'));
  expect(assets.map((r) => r.url.split('/').pop())).toEqual(
    expect.arrayContaining([expect.stringMatching(/\.wasm$/), expect.stringMatching(/\.js$/), expect.stringMatching(/\.css$/)]),
  );
  for (const asset of assets) {
    const name = asset.url.split('/').pop()!;
    expect(name, 'content-hashed name').toMatch(/^microblog\.[A-Za-z0-9_-]{8,}\.(wasm|js|css)$/);
    expect(asset.headers['content-encoding'], `${name} compressed`).toMatch(/^(br|gzip)$/);
    expect(asset.headers['cache-control'], name).toBe('public, max-age=31536000, immutable');
  }
  const html = site.find((r) => r.url.endsWith('/login'))!;
  expect(html.headers['content-encoding'], 'the page is compressed').toMatch(/^(br|gzip)$/);
  expect(html.headers['cache-control'], 'a page is never reused unchecked').toContain('no-cache');

  const total = [...encoded.entries()]
    .filter(([url]) => !url.includes('gravatar') && !url.includes('/api/'))
    .reduce((sum, [, bytes]) => sum + bytes, 0);
  console.log(`first visit to /login: ${total} bytes over the wire`);
  expect(total).toBeLessThan(FIRST_VISIT_BUDGET_BYTES);

  // The next page downloads no asset again: they are cached as immutable, not even revalidated.
  urls.clear();
  encoded.clear();
  const statuses: number[] = [];
  cdp.on('Network.responseReceived', (event) => {
    if (event.response.url.includes('/pkg/')) statuses.push(event.response.status);
  });
  await gotoHydrated(page, '/register');
  const assetBytes = [...encoded.entries()].filter(([url]) => url.includes('/pkg/'));
  for (const [url, bytes] of assetBytes) expect(bytes, `${url} came over the network again`).toBeLessThan(1000);
  expect(statuses.filter((status) => status === 304), 'no revalidation').toEqual([]);

  const favicon = await page.request.get('/favicon.ico');
  expect(favicon.status()).toBe(200);
  expect(favicon.headers()['content-type']).toMatch(/icon/);
  expect(consoleErrors).toEqual([]);
  await context.close();
});
