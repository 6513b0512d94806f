/**
 * Headless Chromium for the dashboard tests: Debian's `chromium`
 * (/usr/bin/chromium, or ATFED_CHROMIUM) driven by playwright-core, which
 * never downloads a browser of its own. A missing browser FAILS the test
 * with the install command (.ci/run installs it), never skips it.
 *
 * Flags: the ones this machine needs (no sandbox as root, no GPU, no QUIC,
 * no background networking/component updates/sync, whose connections the
 * closed network refuses). `chromium.launch` starts every browser with a
 * fresh temporary profile (its own --user-data-dir), removed at close.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM_PATH = process.env['ATFED_CHROMIUM'] ?? '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` (as .ci/run does) or set ATFED_CHROMIUM`)
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 })
}

/** A page that records the console errors and uncaught exceptions of the page's scripts. */
export async function newPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`)
  })
  return { page, errors }
}

/** Write a screenshot under the OS temp dir and print its path (the test log keeps it). */
export function saveScreenshot(name: string, png: Uint8Array): string {
  const path = join(tmpdir(), `atfed-${name}.png`)
  writeFileSync(path, png)
  console.log(`screenshot: ${path}`)
  return path
}
