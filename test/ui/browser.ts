/**
 * Debian's Chromium driven by playwright-core for the web UI tests: the flags this machine needs
 * (no background networking: the network is closed), a fresh profile, and screenshots kept as
 * test artifacts (and in docs/images when KESTREL_UPDATE_SCREENSHOTS=1).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export function skipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `Chromium is not installed (${CHROMIUM}): apt-get install -y chromium, or run bash scripts/setup.sh as root`;
  return null;
}

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Headless Chromium with a new empty profile; every console error of the page is collected. */
export async function launch(errors: string[] = []): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'kestrel-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1100, height: 800 } });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where screenshots are kept as test artifacts. */
export const ARTIFACTS = join(tmpdir(), 'kestrel-ui-screenshots');
const DOCS = join(process.cwd(), 'docs', 'images');

/** A screenshot of the whole page: to the artifacts folder, and to docs/images with KESTREL_UPDATE_SCREENSHOTS=1. Returns the artifact's path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `ui-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  if (process.env.KESTREL_UPDATE_SCREENSHOTS === '1') copyFileSync(path, join(DOCS, `ui-${name}.png`));
  return path;
}
