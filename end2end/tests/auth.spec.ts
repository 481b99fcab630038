import { test, expect, register, uniqueName, gotoHydrated, PASSWORD } from './helpers';

test.describe('signing in', () => {
  // The wrong password below is answered 401, which the console reports as a failed load.
  test.use({ allowedConsoleErrors: [/status of 401/] });

  test('a person registers, signs out, signs in again and lands where `next` pointed', async ({ page, consoleErrors }) => {
  const me = uniqueName('auth');
  await register(page, me);
  // The same messages a person without JavaScript gets, on the same pages.
  await expect(page.getByRole('status')).toHaveText('Congratulations, you are now a registered user!');
  await page.getByRole('button', { name: 'Logout' }).click();
  await expect(page.getByRole('link', { name: 'Login' })).toBeVisible();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('status')).toHaveText('You have signed out.');
  // A message is about the page it appeared on.
  await page.getByRole('link', { name: 'Explore' }).click();
  await expect(page.getByRole('heading', { name: 'Explore' })).toBeVisible();
  await expect(page.getByRole('status')).toHaveText('');

  await gotoHydrated(page, `/login?next=/user/${me}`);
  await page.getByLabel('Username').fill(me);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('Invalid username or password.');

  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(new RegExp(`/user/${me}$`));
  await expect(page.getByRole('heading', { name: `User: ${me}` })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Edit your profile' })).toBeVisible();
  expect(consoleErrors).toEqual([]);
  });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('registering and signing out say so on the page they lead to', async ({ page }) => {
    const me = uniqueName('nojsauth');
    await page.goto('/register');
    await page.getByLabel('Username').fill(me);
    await page.getByLabel('Email').fill(`${me}@example.com`);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Register' }).click();
    await expect(page.getByRole('heading', { name: `Hi, ${me}!` })).toBeVisible();
    await expect(page.getByRole('status')).toHaveText('Congratulations, you are now a registered user!');
    await page.getByRole('button', { name: 'Logout' }).click();
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByRole('status')).toHaveText('You have signed out.');
  });
});

test('the home page sends signed-out visitors to the login page', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login\?next=\/$/);
});
