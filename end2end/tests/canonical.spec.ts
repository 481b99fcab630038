import { test, expect, newPerson, register, post, uniqueName, gotoHydrated, feedBodies } from './helpers';

// SPEC §2's canonical scenario, through the browser: four people register, post, follow each
// other by clicking Follow on profiles, and each home feed shows exactly the expected posts.
test('the canonical scenario: each home feed shows exactly whom its owner follows', async ({ browser }) => {
  const names = {
    john: uniqueName('john'),
    susan: uniqueName('susan'),
    mary: uniqueName('mary'),
    david: uniqueName('david'),
  };
  const people = {
    john: await newPerson(browser),
    susan: await newPerson(browser),
    mary: await newPerson(browser),
    david: await newPerson(browser),
  };
  for (const who of ['john', 'susan', 'mary', 'david'] as const) {
    await register(people[who].page, names[who]);
  }
  // Posting order gives the spec's times: john t+1, david t+2, mary t+3, susan t+4.
  for (const who of ['john', 'david', 'mary', 'susan'] as const) {
    await post(people[who].page, `post from ${names[who]}`);
  }

  const follow = async (who: keyof typeof names, whom: keyof typeof names) => {
    const { page } = people[who];
    await gotoHydrated(page, `/user/${names[whom]}`);
    await page.getByRole('button', { name: 'Follow' }).click();
    await expect(page.getByRole('button', { name: 'Unfollow' })).toBeVisible();
  };
  await follow('john', 'susan');
  await follow('john', 'david');
  await follow('susan', 'mary');
  await follow('mary', 'david');

  const expected = {
    john: ['susan', 'david', 'john'],
    susan: ['susan', 'mary'],
    mary: ['mary', 'david'],
    david: ['david'],
  } as const;
  for (const who of ['john', 'susan', 'mary', 'david'] as const) {
    const { page } = people[who];
    await gotoHydrated(page, '/');
    const wanted = expected[who].map((author) => `post from ${names[author]}`);
    await expect.poll(() => feedBodies(page), { message: `${who}'s feed` }).toEqual(wanted);
  }

  // Screenshots for people reviewing the change: a profile and a home feed.
  await people.john.page.screenshot({ path: 'test-results/home-feed.png', fullPage: true });
  await gotoHydrated(people.john.page, `/user/${names.susan}`);
  await people.john.page.screenshot({ path: 'test-results/profile.png', fullPage: true });

  for (const who of ['john', 'susan', 'mary', 'david'] as const) {
    expect(people[who].errors, `${who}'s console`).toEqual([]);
    await people[who].context.close();
  }
});
