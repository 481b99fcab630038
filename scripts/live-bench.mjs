// The live feed under load, driven by scripts/bench.sh. Prints one JSON line.
//
//   node scripts/live-bench.mjs FIRST_HOST:PORT SECOND_HOST:PORT AUTHOR READERS_FILE POSTS CTL
//
// READERS_FILE lists usernames (password "microblog"), each following AUTHOR. Every reader is
// signed in first; then half of them open /live/home, alternately on the two servers, and the
// script writes "half" to the file CTL and waits for "rest"; then the other half, and it
// writes "open" and waits for "go". bench.sh measures the servers' memory at "half" and
// "open": the difference is what the second half of the streams holds, with every sign-in's
// own memory (password checks) already in both.
// AUTHOR then posts POSTS times through the first server, one post at a time, 10 per second,
// and the script reports when each reader received each post: the delay from the post
// request's start (an upper bound on the delay from its commit) to the event.
import http from 'node:http';
import fs from 'node:fs';

const [first, second, author, readersFile, postCount, control] = process.argv.slice(2);
const readers = fs.readFileSync(readersFile, 'utf8').split('\n').filter(Boolean);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function request(address, method, path, { cookie, body } = {}) {
  return new Promise((resolve, reject) => {
    const headers = { Accept: 'application/json', Origin: `http://${address}` };
    if (cookie) headers.Cookie = cookie;
    if (body) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const [host, port] = address.split(':');
    const req = http.request({ host, port, method, path, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function signIn(address, username) {
  const res = await request(address, 'POST', '/api/login', { body: `username=${username}&password=microblog` });
  const cookie = (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).find((c) => c.startsWith('microblog_session='));
  if (res.statusCode !== 200 || !cookie) throw new Error(`sign-in of ${username}: ${res.statusCode}`);
  return cookie;
}

// Received events: post id -> list of receive times (ms, performance.now()).
const received = new Map();
let openStreams = 0;
let failedStreams = 0;
const sockets = [];

function openStream(address, cookie) {
  return new Promise((resolve) => {
    const [host, port] = address.split(':');
    const req = http.get({ host, port, path: '/live/home', headers: { Cookie: cookie, Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        failedStreams += 1;
        res.resume();
        resolve();
        return;
      }
      openStreams += 1;
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data:'));
          if (block.includes('event: post') && data) {
            const id = Number(data.slice(5).trim().split(' ')[0]);
            if (!received.has(id)) received.set(id, []);
            received.get(id).push(performance.now());
          }
        }
      });
      resolve();
    });
    req.on('error', () => {
      failedStreams += 1;
      resolve();
    });
    sockets.push(req);
  });
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null);

const signInStarted = performance.now();
const cookies = new Array(readers.length);
let next = 0;
await Promise.all(
  // Two at a time per server: its password checks run two at a time, and more would wait.
  Array.from({ length: 4 }, async () => {
    while (next < readers.length) {
      const index = next++;
      cookies[index] = await signIn(index % 2 ? second : first, readers[index]);
    }
  }),
);
const signInSeconds = (performance.now() - signInStarted) / 1000;
const half = Math.floor(readers.length / 2);
for (let i = 0; i < readers.length; i += 1) {
  if (i === half) {
    fs.writeFileSync(control, 'half');
    while (fs.readFileSync(control, 'utf8').trim() !== 'rest') await sleep(100);
  }
  await openStream(i % 2 ? second : first, cookies[i]);
}
if (readers.length === 0) {
  fs.writeFileSync(control, 'half');
  while (fs.readFileSync(control, 'utf8').trim() !== 'rest') await sleep(100);
}
// Every stream has answered its headers, so it is registered.
fs.writeFileSync(control, 'open');
while (fs.readFileSync(control, 'utf8').trim() !== 'go') await sleep(100);

const authorCookie = await signIn(first, author);
const postStarts = [];
for (let i = 0; i < Number(postCount); i += 1) {
  const started = performance.now();
  postStarts.push(started);
  const res = await request(first, 'POST', '/api/create_post', { cookie: authorCookie, body: `body=live+bench+post+${i}` });
  if (res.statusCode !== 200) throw new Error(`post ${i}: ${res.statusCode}`);
  await sleep(Math.max(0, 100 - (performance.now() - started)));
}
// Wait until every stream has every post, or 10 s.
const deadline = performance.now() + 10_000;
const complete = () => received.size >= postStarts.length && [...received.values()].every((times) => times.length >= openStreams);
while (!complete() && performance.now() < deadline) await sleep(50);

// Posts are made one after another, so their ids rise in the order they were made.
const ids = [...received.keys()].sort((a, b) => a - b).slice(-postStarts.length);
const delays = [];
ids.forEach((id, index) => {
  for (const at of received.get(id)) delays.push(at - postStarts[index]);
});
delays.sort((a, b) => a - b);
const expected = postStarts.length * openStreams;
console.log(
  JSON.stringify({
    readers: readers.length,
    open_streams: openStreams,
    failed_streams: failedStreams,
    sign_in_seconds: Math.round(signInSeconds),
    posts: postStarts.length,
    events_expected: expected,
    events_received: delays.length,
    delay_ms_p50: Math.round(percentile(delays, 50)),
    delay_ms_p99: Math.round(percentile(delays, 99)),
    delay_ms_max: Math.round(delays[delays.length - 1] ?? 0),
  }),
);
for (const req of sockets) req.destroy();
process.exit(0);
