import { test, expect, gotoHydrated } from './helpers';

// What a first visit downloads: every byte counted as it came over the wire (compressed).
// The budget is what this build achieves plus a margin, so an accidental regression (a file
// sent uncompressed, a heavy new crate) fails here; BENCHMARKS.md has the measured figures.
const FIRST_VISIT_BUDGET_BYTES = 450_000;

test('a first visit is compressed, within its byte budget, and cached for the next one', async ({ page, context, consoleErrors }) => {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map<string, string>();
  const encoded = new Map<string, number>();
  const fromCache = new Set<string>();
  cdp.on('Network.requestWillBeSent', (event) => urls.set(event.requestId, event.request.url));
  cdp.on('Network.requestServedFromCache', (event) => fromCache.add(urls.get(event.requestId) ?? ''));
  cdp.on('Network.responseReceived', (event) => {
    if (event.response.fromDiskCache || event.response.fromPrefetchCache) fromCache.add(event.response.url);
  });
  cdp.on('Network.loadingFinished', (event) => {
    const url = urls.get(event.requestId) ?? '';
    encoded.set(url, (encoded.get(url) ?? 0) + event.encodedDataLength);
  });
  const responses: { url: string; headers: Record<string, string>; status: number }[] = [];
  page.on('response', async (response) => {
    responses.push({ url: response.url(), headers: await response.allHeaders(), status: response.status() });
  });

  await gotoHydrated(page, '/explore');
  await expect.poll(() => [...urls.values()].filter((url) => url.includes('/pkg/')).length).toBeGreaterThanOrEqual(3);

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
  const html = site.find((r) => r.url.endsWith('/explore'))!;
  expect(html.headers['content-encoding'], 'the page is compressed').toMatch(/^(br|gzip)$/);
  expect(html.headers['cache-control'], 'a page is never reused unchecked').toContain('no-cache');

  const total = [...encoded.entries()]
    .filter(([url]) => !url.includes('gravatar') && !url.includes('/api/'))
    .reduce((sum, [, bytes]) => sum + bytes, 0);
  console.log(`first visit to /explore: ${total} bytes over the wire`);
  expect(total).toBeLessThan(FIRST_VISIT_BUDGET_BYTES);

  // The next page loads no asset again: they are cached as immutable.
  urls.clear();
  fromCache.clear();
  await gotoHydrated(page, '/login');
  const pkgRequests = [...urls.values()].filter((url) => url.includes('/pkg/'));
  for (const url of pkgRequests) expect(fromCache.has(url), `${url} from the cache`).toBe(true);

  const favicon = await page.request.get('/favicon.ico');
  expect(favicon.status()).toBe(200);
  expect(favicon.headers()['content-type']).toMatch(/icon/);
  expect(consoleErrors).toEqual([]);
});
