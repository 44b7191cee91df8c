import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Page } from "playwright-core";

/**
 * Where the browser tests write a picture of each view: docs/screenshots/latest (ignored by git, so a test run leaves
 * the working tree clean), or PMHE_SCREENSHOT_DIR when set: `npm run screenshots` sets it to docs/screenshots, the
 * committed pictures the README shows.
 */
export const SCREENSHOT_DIR = process.env.PMHE_SCREENSHOT_DIR
  ? resolve(process.env.PMHE_SCREENSHOT_DIR)
  : join(import.meta.dirname, "..", "..", "..", "docs", "screenshots", "latest");

/**
 * The whole page as it is now, to <SCREENSHOT_DIR>/<name>.png (animations stopped, caret hidden). The width is the
 * page's viewport width (1280 unless the test set another); the height is the page's.
 */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  // Fonts and lazily loaded chunks settle before the picture.
  await page.evaluate("document.fonts.ready.then(() => true)");
  await page.screenshot({ path, fullPage: options.fullPage ?? true, animations: "disabled", caret: "hide" });
  return path;
}
