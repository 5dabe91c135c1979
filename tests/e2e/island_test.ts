/**
 * Islands in a real browser: the fixture app (shared signal, hostile props, JSX children with an
 * island inside) served in-process, and the real app started with `deno serve` on port 0.
 * @module
 */
import assert from "node:assert/strict";
import { App, staticFiles } from "fresh";
import type { Page } from "playwright-core";
import fixtureManifest from "../fixtures/fresh_app/fresh.gen.ts";
import { HOSTILE } from "../fixtures/fresh_app/routes/islands.tsx";
import { browserTest } from "./browser.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");
const FIXTURE = `${ROOT}/tests/fixtures/fresh_app`;

async function run(args: string[], env: Record<string, string> = {}): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, env }).output();
  if (!out.success) {
    throw new Error(`deno ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

async function waitForHydration(page: Page): Promise<void> {
  await page.waitForFunction("globalThis.__freshHydrated === true");
}

/**
 * The value of the field at `selector` once it equals `expected`, or as it is after ~300 frames.
 * The page's CSP forbids eval, which `waitForFunction` with a string needs for polling.
 */
async function valueAfterRender(page: Page, selector: string, expected: string): Promise<string> {
  return String(
    await page.evaluate(`new Promise((resolve) => {
      let frames = 0;
      const check = () => {
        const value = document.querySelector(${JSON.stringify(selector)})?.value;
        if (value === ${JSON.stringify(expected)} || ++frames > 300) resolve(value);
        else requestAnimationFrame(check);
      };
      check();
    })`),
  );
}

function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    // Chromium asks every origin for /favicon.ico; a 404 there is not the app's fault.
    if (msg.type() === "error" && !msg.location().url.endsWith("/favicon.ico")) {
      errors.push(`${msg.text()} (${msg.location().url})`);
    }
  });
  return errors;
}

browserTest("islands: fixture app hydrates signals, props and slots", async ({ page }) => {
  const out = await Deno.makeTempDir({ prefix: "fresh-fixture-build-" });
  const server = { current: null as Deno.HttpServer | null };
  try {
    await run(["run", "-A", "scripts/build.ts", "--root", FIXTURE, "--out", `${out}/_fresh`]);
    await Deno.copyFile(`${FIXTURE}/static/style.css`, `${out}/style.css`);
    const app = new App({ root: FIXTURE, staticDir: out }).use(staticFiles())
      .fsRoutes(fixtureManifest);
    const listening = Promise.withResolvers<number>();
    server.current = Deno.serve({
      port: 0,
      hostname: "127.0.0.1",
      onListen: ({ port }) => listening.resolve(port),
    }, app.handler());
    const base = `http://127.0.0.1:${await listening.promise}`;
    const errors = collectPageErrors(page);

    await page.goto(`${base}/islands`);
    await waitForHydration(page);

    // Two islands got the same signal: one click updates both.
    const outputs = page.locator(".counter output");
    await page.locator(".counter button").first().click();
    await page.waitForFunction(
      "[...document.querySelectorAll('.counter output')].every((o) => o.textContent === '6')",
    );
    assert.deepEqual(await outputs.allTextContents(), ["6", "6"]);

    // Props decoded in the browser: hostile text, a Date, an undefined key.
    await page.waitForSelector(".echo[data-client='true']");
    const echo = await page.locator(".echo").textContent();
    assert.equal(echo, `${JSON.stringify(HOSTILE)} 2024-02-29T12:00:00.000Z true`);

    // JSX children: server-rendered content stays, the island inside them is interactive,
    // and the outer island can unmount and re-mount its children.
    await page.locator(".label").click();
    await page.waitForFunction(
      "document.querySelector('.label')?.textContent === 'inside a slot 1'",
    );
    await page.locator(".toggle").click();
    await page.waitForFunction("document.querySelector('.box .content') === null");
    await page.locator(".toggle").click();
    await page.waitForSelector(".box .content p.static em");
    assert.equal(await page.locator(".label").textContent(), "inside a slot 0");
    assert.deepEqual(errors, []);

    // A page without islands ships no script at all.
    await page.goto(`${base}/`);
    assert.equal(await page.locator("main").textContent(), "plain page, no islands");
    assert.equal(await page.locator("script").count(), 0);
    assert.equal(
      await page.evaluate("globalThis.__freshHydrated === undefined"),
      true,
      "no boot code ran",
    );
  } finally {
    await server.current?.shutdown();
    await Deno.remove(out, { recursive: true });
  }
});

browserTest(
  "islands: the real app (deno serve, built bundle) hydrates its page",
  async ({ page }) => {
    await run(["run", "-A", "scripts/build.ts", "--if-missing"]);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["serve", "-A", "--host", "127.0.0.1", "--port", "0", "main.ts"],
      cwd: ROOT,
      env: { KV_PATH: ":memory:", LOG_LEVEL: "info" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const log: string[] = [];
    try {
      const url = await new Promise<string>((resolve, reject) => {
        (async () => {
          let buffer = "";
          for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
            buffer += chunk;
            let nl: number;
            while ((nl = buffer.indexOf("\n")) !== -1) {
              const line = buffer.slice(0, nl);
              buffer = buffer.slice(nl + 1);
              log.push(line);
              if (line.includes('"msg":"listening"')) resolve(JSON.parse(line).url);
            }
          }
          reject(new Error(`server exited before listening:\n${log.join("\n")}`));
        })().catch(reject);
      });
      const errors = collectPageErrors(page);
      const bundles: string[] = [];
      page.on("response", (res) => {
        if (new URL(res.url()).pathname.startsWith("/_fresh/")) bundles.push(res.url());
      });
      await page.goto(url);
      await waitForHydration(page);
      assert.equal(await page.locator("script").count(), 1, "one boot script");
      const markers = await page.evaluate(`(() => {
      const it = document.createNodeIterator(document, NodeFilter.SHOW_COMMENT);
      let n = 0;
      for (let c = it.nextNode(); c; c = it.nextNode()) if (c.data.startsWith("frsh:island:")) n++;
      return n;
    })()`);
      assert.ok(Number(markers) > 0, "island markers are in the page");

      // Only a hydrated island reacts: an example chip fills the prompt box.
      const prompt = page.locator("#prompt");
      assert.equal(await prompt.inputValue(), "", "the prompt box starts empty");
      const chip = page.locator(".examples .chip-btn").last();
      const example = (await chip.textContent()) ?? "";
      assert.ok(example.length > 0, "the console offers example prompts");
      await chip.click();
      assert.equal(await valueAfterRender(page, "#prompt", example), example);
      assert.equal(
        await page.evaluate(`document.activeElement?.id`),
        "prompt",
        "the chip also focuses the prompt box",
      );
      assert.ok(bundles.length >= 2, `runtime and island bundles were loaded: ${bundles}`);
      const bundle = await fetch(bundles[0]);
      assert.equal(bundle.headers.get("cache-control"), "public, max-age=31536000, immutable");
      await bundle.body?.cancel();
      assert.deepEqual(errors, []);
    } finally {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited (a failed start); its log is in the error above.
      }
      await child.status;
    }
  },
);
