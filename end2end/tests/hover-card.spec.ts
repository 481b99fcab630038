import { test, expect, register, uniqueName, gotoHydrated, newPerson, post, prepareContext, watchConsole } from './helpers';

// A person with one post, so their profile shows their name twice: in the heading (with the
// page's Follow button) and as the author of the post (a link that opens a hover card).
async function personWithAPost(browser: import('@playwright/test').Browser) {
  const name = uniqueName('card');
  const person = await newPerson(browser);
  await register(person.page, name);
  await post(person.page, `hello from ${name}`);
  await person.context.close();
  return name;
}

test('the hover card opens on hover, and its Follow button and the page stay in step', async ({ page, browser, consoleErrors }) => {
  const target = await personWithAPost(browser);
  await register(page, uniqueName('reader'));
  await gotoHydrated(page, `/user/${target}`);
  const card = page.getByRole('group', { name: `About ${target}` });
  const pageFollow = page.locator('.profile-action').getByRole('button');
  await expect(card).toHaveCount(0);

  await page.getByRole('article').getByRole('link', { name: target }).hover();
  await expect(card).toBeVisible();
  await expect(card).toContainText('0 followers, 0 following.');
  await expect(card).toContainText('Last seen');

  let documentLoads = 0;
  page.on('load', () => (documentLoads += 1));
  await card.getByRole('button', { name: 'Follow' }).click();
  await expect(card.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  await expect(card).toContainText('1 follower, 0 following.');
  await expect(pageFollow).toHaveText('Unfollow');
  await expect(page.locator('.profile .followers-count')).toHaveText('1');

  // The card opened again shows what the page knows now, and changes nothing.
  await page.mouse.move(0, 0);
  await expect(card).toHaveCount(0);
  await page.getByRole('article').getByRole('link', { name: target }).hover();
  await expect(card.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  await expect(card).toContainText('1 follower, 0 following.');
  await expect(pageFollow).toHaveText('Unfollow');

  // And the other way round: the page's button moves the card's.
  await pageFollow.click();
  await expect(pageFollow).toHaveText('Follow');
  await expect(page.locator('.profile .followers-count')).toHaveText('0');
  await page.getByRole('article').getByRole('link', { name: target }).hover();
  await expect(card.getByRole('button', { name: 'Follow' })).toBeVisible();
  await expect(card).toContainText('0 followers, 0 following.');

  await page.mouse.move(0, 0);
  await expect(card).toHaveCount(0);
  expect(documentLoads, 'no new document was loaded').toBe(0);
  expect(consoleErrors).toEqual([]);
});

test('the hover card opens on focus, closes on Escape, and never traps focus', async ({ page, browser, consoleErrors }) => {
  const target = await personWithAPost(browser);
  await register(page, uniqueName('keys'));
  await gotoHydrated(page, `/user/${target}`);
  const card = page.getByRole('group', { name: `About ${target}` });
  const author = page.getByRole('article').getByRole('link', { name: target });

  await author.focus();
  await expect(card).toBeVisible();
  await expect(card.getByRole('button', { name: 'Follow' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(card).toHaveCount(0);
  await expect(author).toBeFocused();

  // Tab goes from the name into the card's button, and on out of the card, which then closes.
  await author.blur();
  await author.focus();
  await expect(card.getByRole('button', { name: 'Follow' })).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(card.getByRole('button', { name: 'Follow' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(card).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});

test('on a touch screen a tap opens the card, and a second tap follows the link', async ({ browser }) => {
  const target = await personWithAPost(browser);
  const context = await browser.newContext({ hasTouch: true, javaScriptEnabled: true });
  await prepareContext(context);
  const page = await context.newPage();
  const errors = watchConsole(page);
  await register(page, uniqueName('touch'));
  await gotoHydrated(page, `/user/${target}`);
  await page.locator('.profile-action').getByRole('button', { name: 'Follow' }).click();
  await expect(page.locator('.profile-action').getByRole('button')).toHaveText('Unfollow');
  await gotoHydrated(page, '/');
  const author = page.getByRole('article').filter({ hasText: `hello from ${target}` }).getByRole('link', { name: target });
  await author.tap();
  const card = page.getByRole('group', { name: `About ${target}` });
  await expect(card).toContainText('1 follower, 0 following.');
  await expect(card.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
  await author.tap();
  await expect(page).toHaveURL(new RegExp(`/user/${target}$`));
  expect(errors).toEqual([]);
  await context.close();
});

test('following a name from a page, with its card open or not, leaves the console clean', async ({ page, browser, consoleErrors }) => {
  const target = await personWithAPost(browser);
  await register(page, uniqueName('walker'));
  await gotoHydrated(page, `/user/${target}`);
  await page.locator('.profile-action').getByRole('button', { name: 'Follow' }).click();
  await expect(page.locator('.profile-action').getByRole('button')).toHaveText('Unfollow');
  for (const withCard of [true, false]) {
    // Home shows the post whatever other tests post meanwhile: the walker follows only its author.
    await gotoHydrated(page, '/');
    const author = page.getByRole('article').filter({ hasText: `hello from ${target}` }).getByRole('link', { name: target });
    if (withCard) {
      await author.hover();
      await expect(page.getByRole('group', { name: `About ${target}` })).toContainText(/1 follower, \d+ following/);
      await author.click();
    } else {
      await author.focus();
      await page.keyboard.press('Escape');
      await page.keyboard.press('Enter');
    }
    await expect(page.getByRole('heading', { name: `User: ${target}` })).toBeVisible();
  }
  // A disposed signal read while the old page is torn down panics the wasm: it shows here.
  expect(consoleErrors).toEqual([]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a name is simply a link to the profile', async ({ page, browser }) => {
    const target = await personWithAPost(browser);
    await page.goto(`/user/${target}/followers`);
    await page.goto(`/user/${target}`);
    const author = page.getByRole('article').getByRole('link', { name: target });
    await expect(author).toHaveAttribute('href', `/user/${target}`);
    await author.hover();
    await expect(page.getByRole('group', { name: `About ${target}` })).toHaveCount(0);
    await author.focus();
    await expect(page.getByRole('group', { name: `About ${target}` })).toHaveCount(0);
  });
});
