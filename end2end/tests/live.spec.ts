import { Browser } from '@playwright/test';
import { test, expect, register, uniqueName, gotoHydrated, post, prepareContext, watchConsole } from './helpers';

// The second server process on the same database (scripts/test.sh starts it): a post made
// through one process must reach a reader connected to the other.
const SECOND = process.env.SECOND_BASE_URL ?? 'http://127.0.0.1:3101';

async function personOn(browser: Browser, baseURL?: string) {
  const context = await browser.newContext({ javaScriptEnabled: true, ...(baseURL ? { baseURL } : {}) });
  await prepareContext(context);
  const page = await context.newPage();
  const errors = watchConsole(page);
  return { context, page, errors };
}

async function follow(page: import('@playwright/test').Page, name: string) {
  await gotoHydrated(page, `/user/${name}`);
  await page.getByRole('button', { name: 'Follow', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Unfollow' })).toBeVisible();
}

const banner = (page: import('@playwright/test').Page) => page.locator('button.new-posts');

test('a post made through another server shows as a new-posts banner; activating it shows the post in place', async ({ browser }) => {
  const reader = await personOn(browser);
  const author = await personOn(browser, SECOND);
  const readerName = uniqueName('live_r');
  const authorName = uniqueName('live_a');
  await register(author.page, authorName);
  await register(reader.page, readerName);
  await follow(reader.page, authorName);
  await gotoHydrated(reader.page, '/');
  await reader.page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  const before = await reader.page.getByRole('article').allInnerTexts();

  const text = `live from the other server ${uniqueName('p')}`;
  await post(author.page, text);
  await expect(banner(reader.page)).toHaveText(`1 new post from ${authorName}`);
  // Nothing on screen moved: the banner floats, and the feed is what it was.
  expect(await reader.page.getByRole('article').allInnerTexts()).toEqual(before);
  await expect(banner(reader.page)).toHaveCSS('position', 'fixed');

  await banner(reader.page).click();
  await expect(reader.page.getByRole('article').first()).toContainText(text);
  await expect(banner(reader.page)).toHaveCount(0);
  expect(await reader.page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
  expect(reader.errors).toEqual([]);
  expect(author.errors).toEqual([]);
  await reader.context.close();
  await author.context.close();
});

test('posts by people the reader does not follow, or has just unfollowed, never reach the banner', async ({ browser }) => {
  const reader = await personOn(browser);
  const friend = await personOn(browser, SECOND);
  const stranger = await personOn(browser, SECOND);
  const names = { reader: uniqueName('live_r'), friend: uniqueName('live_f'), stranger: uniqueName('live_s') };
  await register(friend.page, names.friend);
  await register(stranger.page, names.stranger);
  await register(reader.page, names.reader);
  await follow(reader.page, names.friend);
  await follow(reader.page, names.stranger);
  // The reader unfollows the stranger in another tab while the home page stays open.
  await gotoHydrated(reader.page, '/');
  const otherTab = await reader.context.newPage();
  await gotoHydrated(otherTab, `/user/${names.stranger}`);
  await otherTab.getByRole('button', { name: 'Unfollow' }).click();
  await expect(otherTab.getByRole('button', { name: 'Follow', exact: true })).toBeVisible();

  // Posts arrive in commit order: had the stranger's post got through, the banner would say
  // "1 new post from <stranger>" and then "2 new posts from <stranger> and <friend>", never this.
  await post(stranger.page, `from someone unfollowed ${uniqueName('p')}`);
  await post(friend.page, `from a friend ${uniqueName('p')}`);
  await expect(banner(reader.page)).toHaveText(`1 new post from ${names.friend}`);
  expect(reader.errors).toEqual([]);
  await reader.context.close();
  await friend.context.close();
  await stranger.context.close();
});

test('without JavaScript the home page has no banner and no stream', async ({ browser }) => {
  const person = await personOn(browser);
  const name = uniqueName('live_nojs');
  await register(person.page, name);
  const noScript = await browser.newContext({ javaScriptEnabled: false, storageState: await person.context.storageState() });
  const page = await noScript.newPage();
  const streams: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/live/')) streams.push(request.url());
  });
  await page.goto('/');
  await expect(page.getByRole('heading', { name: `Hi, ${name}!` })).toBeVisible();
  await expect(page.locator('button.new-posts')).toHaveCount(0);
  expect(streams).toEqual([]);
  await noScript.close();
  await person.context.close();
});
