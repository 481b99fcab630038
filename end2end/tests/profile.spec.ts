import { test, expect, register, uniqueName, gotoHydrated, newPerson } from './helpers';

test('editing the profile changes the name and about me everywhere', async ({ page, consoleErrors }) => {
  const me = uniqueName('editor');
  const renamed = uniqueName('renamed');
  await register(page, me);
  await gotoHydrated(page, `/user/${me}`);
  await page.getByRole('link', { name: 'Edit your profile' }).click();
  await expect(page.getByLabel('Username')).toHaveValue(me);
  await page.getByLabel('Username').fill(renamed);
  await page.getByLabel('About me').fill('I write <b>tests</b> & more');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status')).toContainText('Your changes have been saved.');

  await gotoHydrated(page, `/user/${renamed}`);
  await expect(page.getByRole('heading', { name: `User: ${renamed}` })).toBeVisible();
  // Markup in about me is shown as text, never interpreted.
  await expect(page.getByText('I write <b>tests</b> & more')).toBeVisible();
  expect(consoleErrors).toEqual([]);
});

test('follower and following lists show people, each with a working follow button', async ({ page, browser, consoleErrors }) => {
  const star = uniqueName('star');
  const fan = uniqueName('fan');
  const starPerson = await newPerson(browser);
  await register(starPerson.page, star);
  const fanPerson = await newPerson(browser);
  await register(fanPerson.page, fan);
  await gotoHydrated(fanPerson.page, `/user/${star}`);
  await fanPerson.page.getByRole('button', { name: 'Follow' }).click();
  await expect(fanPerson.page.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  await fanPerson.context.close();
  await starPerson.context.close();

  await register(page, uniqueName('reader'));
  await gotoHydrated(page, `/user/${star}`);
  // The title comes with the server's HTML, and follows client-side navigation afterwards.
  await expect(page).toHaveTitle(`${star} · Microblog`);
  await page.getByRole('link', { name: /^1 follower$/ }).click();
  await expect(page.getByRole('heading', { name: `Followers of ${star}` })).toBeVisible();
  await expect(page).toHaveTitle(`Followers of ${star} · Microblog`);
  const row = page.getByRole('listitem').filter({ hasText: fan });
  await expect(row).toBeVisible();
  await row.getByRole('button', { name: 'Follow' }).click();
  await expect(row.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  await expect(page.getByRole('status')).toContainText(`You are following ${fan}!`);
  await row.getByRole('link', { name: fan }).click();
  await expect(page.getByRole('heading', { name: `User: ${fan}` })).toBeVisible();
  await expect(page).toHaveTitle(`${fan} · Microblog`);

  await gotoHydrated(page, `/user/${fan}/following`);
  await expect(page.getByRole('heading', { name: `Followed by ${fan}` })).toBeVisible();
  await expect(page.getByRole('listitem').filter({ hasText: star })).toBeVisible();
  expect(consoleErrors).toEqual([]);
});
