import { test, expect, register, uniqueName, gotoHydrated, newPerson } from './helpers';

// Each payload sets window.__pwned and opens a dialog if it ever runs.
const PAYLOADS = [
  '</title><script>window.__pwned=1;alert(1)</script>',
  '"><img src=x onerror="window.__pwned=1;alert(1)">',
  '<svg onload="window.__pwned=1;alert(1)">',
];

/** Records what a page must never see: dialogs, and scripts refused by the policy. */
async function watchForScript(page: import('@playwright/test').Page) {
  const dialogs: string[] = [];
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  await page.addInitScript(() => {
    (window as any).__violations = [];
    document.addEventListener('securitypolicyviolation', (event) =>
      (window as any).__violations.push(`${event.violatedDirective} ${event.blockedURI}`),
    );
  });
  return dialogs;
}

test.describe('crafted links', () => {
  // The crafted users do not exist: the pages answer 404, which the console reports.
  test.use({ allowedConsoleErrors: [/status of 404/] });

  test('a crafted profile link runs no script, signed in or not', async ({ page, consoleErrors }) => {
    const dialogs = await watchForScript(page);
    for (const signedIn of [false, true]) {
      if (signedIn) await register(page, uniqueName('target'));
      for (const payload of PAYLOADS) {
        for (const suffix of ['', '/followers', '/following']) {
          const path = `/user/${encodeURIComponent(payload)}${suffix}`;
          const response = await page.goto(path);
          expect(response?.status(), path).toBe(404);
          await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
          await expect(page).toHaveTitle('Not found · Microblog');
          expect(await page.evaluate(() => (window as any).__pwned), path).toBeUndefined();
          expect(await page.evaluate(() => (window as any).__violations), path).toEqual([]);
        }
      }
    }
    expect(dialogs).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});

test('under its Content-Security-Policy the app hydrates and follows in place', async ({ page, browser, consoleErrors }) => {
  const followed = uniqueName('csp');
  const other = await newPerson(browser);
  await register(other.page, followed);
  await other.context.close();

  const dialogs = await watchForScript(page);
  await register(page, uniqueName('cspreader'));
  const document = page.waitForResponse((response) => response.url().endsWith(`/user/${followed}`));
  await gotoHydrated(page, `/user/${followed}`);
  const policy = (await document).headers()['content-security-policy'] ?? '';
  expect(policy).toMatch(/script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval'/);
  expect(policy).toContain("frame-ancestors 'none'");

  await page.evaluate(() => ((window as any).__sameDocument = true));
  await page.getByRole('button', { name: 'Follow' }).click();
  await expect(page.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  await expect(page.getByText('1 follower, 0 following.')).toBeVisible();
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  expect(await page.evaluate(() => (window as any).__violations)).toEqual([]);
  expect(dialogs).toEqual([]);
  expect(consoleErrors).toEqual([]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a signed-out visitor to the home page is sent to the login page by the server', async ({ page, request }) => {
    const redirect = await request.get('/', { maxRedirects: 0 });
    expect(redirect.status()).toBe(303);
    expect(redirect.headers()['location']).toBe('/login?next=/');

    await page.goto('/');
    await expect(page).toHaveURL(/\/login\?next=\/$/);
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  });
});
