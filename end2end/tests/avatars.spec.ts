import { test, expect, register, post, uniqueName, gotoHydrated, newPerson, expectNoBrokenImages } from './helpers';

// Every avatar is Microblog's own identicon, so no page shows a broken image offline or while
// a third party is down (the tests' contexts cannot reach Gravatar: helpers.ts).
test('no image on any page fails to load, with Gravatar unreachable', async ({ page, browser, consoleErrors }) => {
  const other = await newPerson(browser);
  const target = uniqueName('drawn');
  await register(other.page, target);
  await post(other.page, 'a post beside an avatar');
  await other.context.close();

  const name = uniqueName('viewer');
  await register(page, name);
  await gotoHydrated(page, `/user/${target}`);
  await expectNoBrokenImages(page);
  await page.getByRole('button', { name: 'Follow' }).click();
  await expect(page.getByRole('button', { name: 'Unfollow' })).toBeVisible();

  for (const path of ['/', '/explore', `/user/${name}/following`, `/user/${target}/followers`]) {
    await gotoHydrated(page, path);
    await expectNoBrokenImages(page);
  }
  // A hover card's avatar too.
  await gotoHydrated(page, `/user/${target}`);
  await page.getByRole('article').getByRole('link', { name: target }).hover();
  await expect(page.getByRole('group', { name: `About ${target}` })).toBeVisible();
  await expectNoBrokenImages(page);
});

test('an avatar is an image of our own, kept for a year', async ({ request }) => {
  const response = await request.get('/avatar/855f96e983f1f8e8be944692b6f719fd.svg');
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toBe('image/svg+xml');
  expect(response.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
  expect(await response.text()).toContain('<svg');
  expect((await request.get('/avatar/not-a-hash.svg')).status()).toBe(404);
});
