import { defineConfig } from '@playwright/test';

// Runs against a server that scripts/test.sh has already started (BASE_URL), in Debian's
// Chromium: Playwright's own browser download cannot reach its host from here.
export default defineConfig({
  testDir: './tests',
  // A whole test's budget, not a wait: every step waits for what a person would see. The
  // canonical scenario (16 page loads in four browsers) took 23–29 s on this busy two-core
  // machine and once ran out at 30 s, so the budget leaves it twice its usual time.
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  retries: 0,
  outputDir: './test-results',
  use: {
    baseURL: process.env.BASE_URL ?? 'http://127.0.0.1:3100',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
});
