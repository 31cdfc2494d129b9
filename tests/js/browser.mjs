// Headless Chromium for the explorer's tests and bench: Debian's /usr/bin/chromium driven
// by playwright-core, a fresh profile per launch, the launch flags of shared/toolchain.md §4
// (no background or component-update traffic, so every request seen is the page's own).
// It also turns off the omnibox's WebUI popup: Chromium 156 builds it in a renderer of its
// own at start-up, even headless (~300 chrome:// files), which on a small machine takes CPU
// from the page under test for its first few hundred milliseconds, the bench's window.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Launches a browser context; `close()` also removes its profile. */
export async function launch(options = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'aicr-explorer-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-features=WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup'],
    ...options,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The page's base URL (ends with `/`), from EXPLORER_URL. */
export function baseUrl() {
  const url = process.env.EXPLORER_URL;
  if (!url) throw new Error('set EXPLORER_URL to the explorer, e.g. http://127.0.0.1:8000/');
  return url.endsWith('/') ? url : `${url}/`;
}

/** Opens `url` and waits until the first recipe (or error) is rendered. */
export async function open(page, url) {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
}
