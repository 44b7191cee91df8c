import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Page } from "playwright-core";

/**
 * Where the browser tests write a picture of each view: PMHE_SCREENSHOT_DIR when set (`npm run screenshots` sets it
 * to docs/screenshots, the pictures the README shows), else a directory under the system's temporary one, so that a
 * test run leaves the working tree as it found it.
 */
export const SCREENSHOT_DIR = process.env.PMHE_SCREENSHOT_DIR ? resolve(process.env.PMHE_SCREENSHOT_DIR) : join(tmpdir(), "pmhe-screenshots");

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
