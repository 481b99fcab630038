import { test, expect, register, uniqueName, gotoHydrated, newPerson } from './helpers';

// Who to follow and "Follows you". Each test builds its own small corner of the graph: b and
// b2 are followed by c, whom a follows, so they are a's first two suggestions whatever else
// other tests add (everyone else shares none of a's followees).
async function cornerOfTheGraph(browser: import('@playwright/test').Browser) {
  const b = uniqueName('sugg_b');
  const b2 = uniqueName('sugg_b2');
  const c = uniqueName('sugg_c');
  // Equally shared, so the more recently seen comes first: b, who registers last.
  const b2Person = await newPerson(browser);
  await register(b2Person.page, b2);
  await b2Person.context.close();
  const bPerson = await newPerson(browser);
  await register(bPerson.page, b);
  const cPerson = await newPerson(browser);
  await register(cPerson.page, c);
  for (const followed of [b, b2]) {
    await gotoHydrated(cPerson.page, `/user/${followed}`);
    await cPerson.page.getByRole('button', { name: 'Follow' }).click();
    await expect(cPerson.page.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  }
  await cPerson.context.close();
  return { b, b2, bPerson, c };
}

test('following from Who to follow works in place, and the next suggestion takes its place', async ({ page, browser, consoleErrors }) => {
  const { b, b2, bPerson, c } = await cornerOfTheGraph(browser);
  const a = uniqueName('sugg_a');
  await register(page, a);
  await gotoHydrated(page, `/user/${c}`);
  await page.getByRole('button', { name: 'Follow' }).click();
  await expect(page.getByRole('button', { name: 'Unfollow' })).toBeVisible();

  await gotoHydrated(page, '/');
  const box = page.getByRole('complementary', { name: 'Who to follow' });
  await expect(box.getByRole('listitem').nth(0)).toContainText(b);
  await expect(box.getByRole('listitem').nth(1)).toContainText(b2);
  let documentLoads = 0;
  page.on('load', () => (documentLoads += 1));
  await box.getByRole('listitem').filter({ hasText: b }).getByRole('button', { name: 'Follow' }).click();
  await expect(page.getByRole('status')).toContainText(`You are following ${b}!`);
  await expect(box.getByRole('link', { name: b, exact: true })).toHaveCount(0);
  // The next suggestion moves up to take the place.
  await expect(box.getByRole('listitem').nth(0)).toContainText(b2);
  expect(documentLoads, 'no new document was loaded').toBe(0);

  // b now sees that a follows them.
  await gotoHydrated(bPerson.page, `/user/${a}`);
  await expect(bPerson.page.getByText('Follows you')).toBeVisible();
  await gotoHydrated(bPerson.page, `/user/${b}/followers`);
  await expect(bPerson.page.getByRole('listitem').filter({ hasText: a })).toContainText('Follows you');
  expect(bPerson.errors).toEqual([]);
  await bPerson.context.close();
  expect(consoleErrors).toEqual([]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('Who to follow is a list of forms that follow and come back home', async ({ page, browser }) => {
    const { b, b2, bPerson, c } = await cornerOfTheGraph(browser);
    await bPerson.context.close();
    const a = uniqueName('sugg_nojs');
    await page.goto('/register');
    await page.getByLabel('Username').fill(a);
    await page.getByLabel('Email').fill(`${a}@example.com`);
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
    await page.getByLabel('Repeat password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.goto(`/user/${c}`);
    await page.getByRole('button', { name: 'Follow' }).click();
    await page.goto('/');
    const box = page.getByRole('complementary', { name: 'Who to follow' });
    await box.getByRole('listitem').filter({ hasText: b }).getByRole('button', { name: 'Follow' }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect(page.getByRole('status')).toContainText(`You are following ${b}!`);
    await expect(box.getByRole('link', { name: b, exact: true })).toHaveCount(0);
    await expect(box.getByRole('listitem').nth(0)).toContainText(b2);
  });
});
