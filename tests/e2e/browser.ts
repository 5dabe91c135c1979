/**
 * Shared Chromium helper for e2e tests (playwright-core driving the system Chromium).
 * `browserTest(name, fn)` skips with a hint when no browser is installed (and fails instead when
 * `CI=true`), and saves a screenshot to `test-results/<name>.png` when the test fails.
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Chromium flags that keep the browser off the network and working in containers. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

const INSTALL_HINT = "install it with `apt-get install -y chromium` or set CHROMIUM_PATH";

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The Chromium executable: `CHROMIUM_PATH`, `/usr/bin/chromium`, or the first on `PATH`. */
export function findChromium(): string | null {
  const fromEnv = Deno.env.get("CHROMIUM_PATH");
  if (fromEnv) return isFile(fromEnv) ? fromEnv : null;
  if (isFile("/usr/bin/chromium")) return "/usr/bin/chromium";
  try {
    const out = new Deno.Command("sh", {
      args: [
        "-c",
        "command -v chromium || command -v chromium-browser || command -v google-chrome",
      ],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const path = new TextDecoder().decode(out.stdout).split("\n")[0].trim();
    return path && isFile(path) ? path : null;
  } catch {
    return null;
  }
}

/** A running browser with one page; `close()` also deletes the temporary profile. */
export interface LaunchedBrowser {
  /** The persistent context. */
  context: BrowserContext;
  /** Its first page. */
  page: Page;
  /** Closes the browser and removes the profile directory. */
  close(): Promise<void>;
}

/** Launches headless Chromium with a throwaway profile. */
export async function launchBrowser(executablePath = findChromium()): Promise<LaunchedBrowser> {
  if (!executablePath) throw new Error(`No Chromium found: ${INSTALL_HINT}`);
  const profile = await Deno.makeTempDir({ prefix: "e2e-chromium-" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  } catch (err) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw err;
  }
  context.setDefaultTimeout(10_000);
  const page = context.pages()[0] ?? await context.newPage();
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** A file-name-safe version of a test name. */
function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 100);
}

/**
 * Registers a Deno test that gets a fresh browser. Browser tests keep long-lived pipes and
 * timers inside playwright, so Deno's op/resource sanitizers are off for them.
 */
export function browserTest(
  name: string,
  fn: (browser: LaunchedBrowser) => Promise<void>,
): void {
  const executable = findChromium();
  const ci = Deno.env.get("CI") === "true";
  if (!executable && !ci) {
    console.warn(`Skipping browser test "${name}": no Chromium found; ${INSTALL_HINT}.`);
  }
  Deno.test({
    name,
    ignore: !executable && !ci,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      if (!executable) throw new Error(`CI=true but no Chromium found: ${INSTALL_HINT}`);
      const browser = await launchBrowser(executable);
      try {
        await fn(browser);
      } catch (err) {
        await Deno.mkdir("test-results", { recursive: true });
        await browser.page.screenshot({ path: `test-results/${slug(name)}.png`, fullPage: true })
          .catch(() => {});
        throw err;
      } finally {
        await browser.close();
      }
    },
  });
}
