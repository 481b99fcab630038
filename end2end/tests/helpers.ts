import { test as base, expect, Browser, BrowserContext, Page } from '@playwright/test';

// Avatars are Microblog's own. Gravatar stands for every third party a page might come to
// depend on: unreachable here, as when a visitor is offline or it is down.
export async function prepareContext(context: BrowserContext) {
  await context.route(/gravatar\.com/, (route) => route.abort('internetdisconnected'));
}

/** Fails unless every image on the page has loaded and has a size (none is broken). */
export async function expectNoBrokenImages(page: Page) {
  await expect
    .poll(() =>
      page.evaluate(() =>
        [...document.images]
          .filter((image) => !image.complete || image.naturalWidth === 0)
          .map((image) => image.src),
      ),
    )
    .toEqual([]);
  expect(await page.locator('img').count(), 'the page shows avatars').toBeGreaterThan(0);
}

/** Collects console errors and uncaught exceptions of a page. */
export function watchConsole(page: Page, allowed: RegExp[] = []): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    const text = message.text();
    const bad = message.type() === 'error' || /hydrat/i.test(text);
    if (bad && !allowed.some((pattern) => pattern.test(text))) errors.push(`${message.type()}: ${text}`);
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}

type Fixtures = { consoleErrors: string[]; allowedConsoleErrors: RegExp[] };

export const test = base.extend<Fixtures>({
  allowedConsoleErrors: [[], { option: true }],
  context: async ({ context }, use) => {
    await prepareContext(context);
    await use(context);
  },
  consoleErrors: async ({ page, allowedConsoleErrors }, use) => {
    const errors = watchConsole(page, allowedConsoleErrors);
    await use(errors);
    expect(errors, 'the browser console should stay free of errors').toEqual([]);
  },
});

export { expect };

let counter = 0;
/** A username no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  counter += 1;
  const stamp = Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);
  return `${prefix}_${stamp}${counter}`.slice(0, 64);
}

export const PASSWORD = 'correct horse battery';

/** Opens `path` and waits until the wasm bundle has hydrated the page. */
export async function gotoHydrated(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

export async function register(page: Page, username: string) {
  await gotoHydrated(page, '/register');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Email').fill(`${username}@example.com`);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Repeat password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(page.getByRole('heading', { name: `Hi, ${username}!` })).toBeVisible();
}

export async function post(page: Page, text: string) {
  await page.getByLabel('Say something').fill(text);
  await page.getByRole('button', { name: 'Submit' }).click();
  await expect(page.getByRole('article').filter({ hasText: text })).toBeVisible();
}

/** A fresh browser session (own cookies) for one person, with console errors collected. */
export async function newPerson(browser: Browser) {
  // Explicit, because a describe block's `test.use` options reach new contexts too.
  const context = await browser.newContext({ javaScriptEnabled: true });
  await prepareContext(context);
  const page = await context.newPage();
  const errors = watchConsole(page);
  return { context, page, errors };
}

/** The post bodies of the feed on screen, top to bottom. */
export async function feedBodies(page: Page): Promise<string[]> {
  const articles = page.getByRole('article');
  const texts = await articles.allInnerTexts();
  return texts.map((text) => text.split('\n').filter(Boolean).pop() ?? '');
}
