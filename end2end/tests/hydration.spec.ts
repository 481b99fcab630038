import { test, expect, register, post, uniqueName, gotoHydrated, newPerson } from './helpers';
import { execFileSync } from 'node:child_process';

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

// A profile is rendered once for every reader who stands the same way to its owner, and served
// to the next with the navigation and the hydration data naming them (server/src/page_cache/).
// The page served so must be that reader's own, and come alive like any other.
test('a profile served from another reader\'s render is the reader\'s own page once hydrated', async ({ page, browser, consoleErrors }) => {
  const owner = uniqueName('kept');
  const person = await newPerson(browser);
  await register(person.page, owner);
  await post(person.page, `kept for everyone ${owner}`);
  await person.context.close();
  // Seen and posted hours ago, so the page's relative times stand still for its whole minute.
  execFileSync('psql', [process.env.DATABASE_URL!, '-qc',
    `UPDATE users SET last_seen = now() - interval '3 hours' WHERE username = '${owner}';
     UPDATE posts SET created_at = now() - interval '3 hours'
       WHERE author_id = (SELECT id FROM users WHERE username = '${owner}')`]);

  // A profile is kept from its second render within ten seconds.
  const first = await newPerson(browser);
  await register(first.page, uniqueName('first'));
  for (let views = 0; views < 2; views += 1) {
    const firstViews = await first.page.goto(`/user/${owner}`);
    expect(firstViews?.headers()['x-page-cache']).toBe('rendered');
  }
  await first.context.close();

  const reader = uniqueName('second');
  await register(page, reader);
  const view = await page.goto(`/user/${owner}`);
  expect(view?.headers()['x-page-cache']).toBe('hit');
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profile' }))
    .toHaveAttribute('href', `/user/${reader}`);

  // The hover card needs the wasm; the Follow button then acts for this reader.
  await page.getByRole('article').getByRole('link', { name: owner }).hover();
  await expect(page.getByRole('group', { name: `About ${owner}` })).toContainText('0 followers');
  await page.locator('.profile-action').getByRole('button', { name: 'Follow' }).click();
  await expect(page.locator('.profile-action').getByRole('button', { name: 'Unfollow' })).toBeVisible();
  await expect(page.locator('.followers-count')).toHaveText('1');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profile' }).click();
  await expect(page.getByRole('heading', { name: `User: ${reader}` })).toBeVisible();
  await expect(page.locator('.following-count')).toHaveText('1');
  expect(consoleErrors).toEqual([]);
});
