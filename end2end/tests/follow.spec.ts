import { test, expect, register, uniqueName, gotoHydrated, newPerson } from './helpers';

async function someoneToFollow(browser: import('@playwright/test').Browser): Promise<string> {
  const person = await newPerson(browser);
  const name = uniqueName('target');
  await register(person.page, name);
  await person.context.close();
  return name;
}

test('Follow flips to Unfollow and counts one more follower without a reload, and it sticks', async ({ page, browser, consoleErrors }) => {
  const target = await someoneToFollow(browser);
  await register(page, uniqueName('fan'));
  await gotoHydrated(page, `/user/${target}`);
  await expect(page.getByText('0 followers, 0 following.')).toBeVisible();

  let documentLoads = 0;
  page.on('load', () => (documentLoads += 1));
  const follow = page.getByRole('button', { name: 'Follow' });
  await follow.click();
  await expect(page.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  await expect(page.getByText('1 follower, 0 following.')).toBeVisible();
  await expect(page.getByRole('status')).toContainText(`You are following ${target}!`);
  expect(documentLoads, 'no new document was loaded').toBe(0);

  await page.reload();
  await expect(page.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  await expect(page.getByText('1 follower, 0 following.')).toBeVisible();

  await gotoHydrated(page, `/user/${target}`);
  await page.getByRole('button', { name: 'Unfollow' }).click();
  await expect(page.getByRole('button', { name: 'Follow' })).toBeVisible();
  await expect(page.getByText('0 followers, 0 following.')).toBeVisible();
  await expect(page.getByRole('status')).toContainText(`You are not following ${target}.`);
  expect(consoleErrors).toEqual([]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the Follow button is a form that posts, redirects back and says what happened', async ({ page, browser }) => {
    const target = await someoneToFollow(browser);
    const me = uniqueName('nojs');
    await page.goto('/register');
    await page.getByLabel('Username').fill(me);
    await page.getByLabel('Email').fill(`${me}@example.com`);
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
    await page.getByLabel('Repeat password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Register' }).click();
    await expect(page.getByRole('heading', { name: `Hi, ${me}!` })).toBeVisible();

    await page.goto(`/user/${target}`);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/follow')),
      page.getByRole('button', { name: 'Follow' }).click(),
    ]);
    expect(response.status()).toBe(303);
    await expect(page).toHaveURL(new RegExp(`/user/${target}$`));
    await expect(page.getByRole('status')).toContainText(`You are following ${target}!`);
    await expect(page.getByRole('button', { name: 'Unfollow' })).toBeVisible();
    await expect(page.getByText('1 follower, 0 following.')).toBeVisible();
  });
});

test.describe('profiles', () => {
  test.use({ allowedConsoleErrors: [/status of 404/] });

  test('an unknown profile is a 404 page', async ({ page, consoleErrors }) => {
    const response = await page.goto(`/user/${uniqueName('nobody')}`);
    expect(response?.status()).toBe(404);
    await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
    expect(consoleErrors).toEqual([]);
  });
});

test('your own profile offers "Edit your profile" and no Follow button', async ({ page, consoleErrors }) => {
  const me = uniqueName('self');
  await register(page, me);
  await gotoHydrated(page, `/user/${me}`);
  await expect(page.getByRole('heading', { name: `User: ${me}` })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Edit your profile' })).toBeVisible();
  await expect(page.getByRole('button', { name: /^(Follow|Unfollow)$/ })).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});
