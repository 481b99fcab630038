import { test, expect, register, post, uniqueName, gotoHydrated, newPerson } from './helpers';

test('the server-rendered HTML already carries the data, before any script runs', async ({ page, request, consoleErrors }) => {
  const author = uniqueName('ssr');
  await register(page, author);
  const text = `rendered on the server ${author}`;
  await post(page, text);

  // A plain HTTP client runs no script: whatever it sees came from the server.
  const response = await request.get(`/user/${author}`);
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain(text);
  expect(html).toContain('Last seen on:');
  expect(consoleErrors).toEqual([]);
});

test('the page becomes interactive once the wasm bundle hydrates it', async ({ page, browser, consoleErrors }) => {
  const followed = uniqueName('hyd');
  const other = await newPerson(browser);
  await register(other.page, followed);
  await other.context.close();

  await register(page, uniqueName('reader'));
  const wasm = page.waitForResponse((response) => response.url().endsWith('.wasm') && response.ok());
  await gotoHydrated(page, `/user/${followed}`);
  await wasm;

  // Only the wasm can change the page in place: a plain form post would load a new document.
  await page.evaluate(() => ((window as any).__sameDocument = true));
  await page.getByRole('button', { name: 'Follow' }).click();
  await expect(page.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  expect(consoleErrors).toEqual([]);
});
