// Abusive clients for the operations tests (scripts/ops-test.sh). Prints one JSON line.
//
//   node scripts/abuse.mjs slow-clients HOST:PORT COUNT DEADLINE_SECONDS
//     Opens COUNT connections that dribble a request one byte every 200 ms: half never finish
//     their head, half send a head announcing a body and then dribble that. While they are open
//     it times GET /healthz; then it waits up to DEADLINE_SECONDS for the server to close them.
//
//   node scripts/abuse.mjs sign-in-flood HOST:PORT COUNT USERNAME PASSWORD
//     Sends COUNT sign-ins with wrong passwords, 64 at a time, each abandoned after 20 ms, then
//     signs in USERNAME for real and reports how long that took and what it answered, then does
//     so again once the flood's abandoned work has had 3 s to drain.
import net from 'node:net';

const [mode, address, ...rest] = process.argv.slice(2);
const [host, port] = address.split(':');
const base = `http://${address}`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed(url, options = {}) {
  const started = performance.now();
  try {
    const response = await fetch(url, { ...options, signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return { status: response.status, ms: Math.round(performance.now() - started), headers: response.headers };
  } catch (error) {
    return { status: 0, ms: Math.round(performance.now() - started), error: String(error) };
  }
}

async function slowClients(count, deadlineSeconds) {
  const sockets = [];
  let closed = 0;
  let connected = 0;
  const opened = performance.now();
  for (let i = 0; i < count; i += 1) {
    const withBody = i % 2 === 1;
    const text = withBody
      ? `POST /api/login HTTP/1.1\r\nHost: ${address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n`
      : `GET /explore HTTP/1.1\r\nHost: ${address}\r\nUser-Agent: slow-client-${i}\r\nAccept: text/html\r\n`;
    const socket = net.connect({ host, port: Number(port) });
    const state = { socket, closed: false, position: 0, text: withBody ? text : text + 'X-Padding: '.repeat(1000) };
    socket.on('connect', () => {
      connected += 1;
      // A body-dribbling client sends its head at once, then the body byte by byte.
      if (withBody) {
        socket.write(state.text);
        state.text = 'a'.repeat(4000);
      }
    });
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      if (!state.closed) {
        state.closed = true;
        closed += 1;
      }
    });
    sockets.push(state);
  }
  const dribble = setInterval(() => {
    for (const state of sockets) {
      if (!state.closed && state.socket.writable && state.position < state.text.length) {
        state.socket.write(state.text[state.position]);
        state.position += 1;
      }
    }
  }, 200);
  await sleep(1000);
  const health = [];
  for (let i = 0; i < 5; i += 1) health.push(await timed(`${base}/healthz`));
  const deadline = performance.now() + deadlineSeconds * 1000;
  while (closed < count && performance.now() < deadline) await sleep(100);
  clearInterval(dribble);
  const result = {
    opened: count,
    connected,
    health_statuses: health.map((h) => h.status),
    health_max_ms: Math.max(...health.map((h) => h.ms)),
    closed_by_server: closed,
    seconds_until_all_closed: closed === count ? Math.round((performance.now() - opened) / 100) / 10 : null,
  };
  for (const state of sockets) state.socket.destroy();
  return result;
}

async function signInFlood(count, username, password) {
  const headers = {
    'Content-Type': 'application/x-www-form-urlencoded',
    Accept: 'application/json',
    Origin: base,
  };
  const login = (user, pass, abandonAfterMs) =>
    fetch(`${base}/api/login`, {
      method: 'POST',
      headers,
      body: `username=${encodeURIComponent(user)}&password=${encodeURIComponent(pass)}`,
      signal: abandonAfterMs ? AbortSignal.timeout(abandonAfterMs) : AbortSignal.timeout(30_000),
    }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    );
  const started = performance.now();
  let sent = 0;
  const workers = Array.from({ length: 64 }, async () => {
    while (sent < count) {
      const n = sent;
      sent += 1;
      await login(`flood${n % 500}`, `wrong password ${n}`, 20);
    }
  });
  await Promise.all(workers);
  const floodSeconds = Math.round((performance.now() - started) / 100) / 10;
  const during = await timed(`${base}/api/login`, {
    method: 'POST',
    headers,
    body: `username=${encodeURIComponent(username)}&password=${encodeURIComponent(password)}`,
  });
  await sleep(3000);
  const after = await timed(`${base}/api/login`, {
    method: 'POST',
    headers,
    body: `username=${encodeURIComponent(username)}&password=${encodeURIComponent(password)}`,
  });
  return {
    sent: count,
    flood_seconds: floodSeconds,
    right_after: { status: during.status, ms: during.ms, retry_after: during.headers?.get('retry-after') ?? null },
    three_seconds_later: { status: after.status, ms: after.ms },
  };
}

let result;
if (mode === 'slow-clients') {
  result = await slowClients(Number(rest[0]), Number(rest[1]));
} else if (mode === 'sign-in-flood') {
  result = await signInFlood(Number(rest[0]), rest[1], rest[2]);
} else {
  console.error('usage: abuse.mjs slow-clients|sign-in-flood HOST:PORT …');
  process.exit(2);
}
console.log(JSON.stringify(result));
