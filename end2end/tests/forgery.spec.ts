import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect, register, uniqueName, gotoHydrated, newPerson } from './helpers';

// A page on another origin that tries to make a signed-in visitor's browser follow someone,
// post, edit their profile and sign out: by an auto-submitting form and by fetch().
function attackerPage(site: string, victimTarget: string): string {
  return `<!doctype html><html><body>
  <form id="follow" method="post" action="${site}/api/follow" target="sink">
    <input name="username" value="${victimTarget}">
  </form>
  <form id="post" method="post" action="${site}/api/create_post" target="sink">
    <input name="body" value="forged post">
  </form>
  <form id="edit" method="post" action="${site}/api/edit_profile" target="sink">
    <input name="username" value="hijacked"><input name="about_me" value="forged">
  </form>
  <form id="logout" method="post" action="${site}/api/logout" target="sink"></form>
  <iframe name="sink"></iframe>
  <script>
    const results = [];
    const post = (path, body) => fetch('${site}' + path, {
      method: 'POST', credentials: 'include', mode: 'no-cors',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body,
    }).then(() => results.push(path), () => results.push(path));
    Promise.all([
      post('/api/follow', 'username=${victimTarget}'),
      post('/api/create_post', 'body=forged+post'),
    ]).then(async () => {
      for (const id of ['follow', 'post', 'edit', 'logout']) {
        document.getElementById(id).submit();
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      document.title = 'attack finished';
    });
  </script></body></html>`;
}

// The refused requests show up in the console as failed loads, and the answers to the forged
// forms refuse to be shown in the attacker's frame: that is the point.
test.use({ allowedConsoleErrors: [/status of 403|Refused to (display|frame)|frame-ancestors/] });

test('forms and fetches from another origin change nothing for a signed-in visitor', async ({ page, browser, baseURL, consoleErrors }) => {
  const target = uniqueName('victimtarget');
  const other = await newPerson(browser);
  await register(other.page, target);
  await other.context.close();

  const me = uniqueName('victim');
  await register(page, me);

  const attacker = http.createServer((_, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html' });
    response.end(attackerPage(baseURL!, target));
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  const port = (attacker.address() as AddressInfo).port;
  try {
    // Only the requests the attacker's page made count: the victim's own page may still have
    // a same-origin request in flight (its home feed) when the attacker's page opens.
    const attackerOrigin = `http://127.0.0.1:${port}`;
    const refused: Promise<number | null>[] = [];
    page.on('response', (response) => {
      if (!response.url().startsWith(`${baseURL}/api/`)) return;
      refused.push(
        response.request().allHeaders().then((headers) =>
          headers['origin'] === attackerOrigin || (headers['referer'] ?? '').startsWith(`${attackerOrigin}/`)
            ? response.status()
            : null,
        ),
      );
    });
    await page.goto(`http://127.0.0.1:${port}/`);
    await expect(page).toHaveTitle('attack finished', { timeout: 15_000 });
    const statuses = (await Promise.all(refused)).filter((status) => status !== null);
    expect(statuses.length, 'the forged requests reached the server').toBeGreaterThan(0);
    expect(statuses.every((status) => status === 403), `statuses: ${statuses}`).toBe(true);
  } finally {
    attacker.close();
  }

  // Still signed in as before, following nobody, with no post and the same name.
  await gotoHydrated(page, `/user/${me}`);
  await expect(page.getByRole('heading', { name: `User: ${me}` })).toBeVisible();
  await expect(page.getByText('0 followers, 0 following.')).toBeVisible();
  await expect(page.getByText('No posts yet.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Logout' })).toBeVisible();
  expect(consoleErrors).toEqual([]);
});
