/**
 * The console's JavaScript budget (README): everything `/` loads is at most 15 KB gzip, zod
 * never reaches the browser, and `@preact/signals` stays a lazy chunk the console does not load.
 * Built from the current sources and measured against the real app, like a browser would load it.
 * @module
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildIslands } from "../../lib/fresh/dev/build.ts";
import { measurePageJs } from "../../scripts/js_budget.ts";
import { startGateway } from "../fixtures/gateway.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");
const BUDGET = 15 * 1024;

describe("console JavaScript budget", () => {
  it("builds island chunks without zod", async () => {
    const { info } = await buildIslands({ root: ROOT, ifMissing: true });
    assert.deepEqual(info.inputs.filter((p) => /\bzod\b|lib\/events\.ts$/.test(p)), []);
    assert.ok(info.inputs.includes("islands/console.tsx"));
    for await (const f of Deno.readDir(`${ROOT}/static/_fresh/${info.buildId}`)) {
      const code = await Deno.readTextFile(`${ROOT}/static/_fresh/${info.buildId}/${f.name}`);
      assert.doesNotMatch(code, /ZodError|\$ZodType|zod/i, `${f.name} holds zod`);
    }
  });

  it("keeps everything / loads within 15 KB gzip", async () => {
    await buildIslands({ root: ROOT, ifMissing: true });
    const gw = await startGateway();
    try {
      const page = await measurePageJs(gw.url, "/");
      const names = page.scripts.map((s) => s.url.replace(/^.*\//, ""));
      assert.ok(names.some((n) => n.startsWith("console-")), `console bundle loaded: ${names}`);
      assert.ok(names.some((n) => n.startsWith("boot-")), "boot runtime loaded");
      assert.ok(
        page.totalGzip <= BUDGET,
        `/ loads ${page.totalGzip} B gzip (> ${BUDGET}): ${JSON.stringify(page.scripts)}`,
      );
      // Signals are only fetched for pages whose island props hold one; the console has none.
      assert.equal(page.lazy.length, 1, "one lazy chunk (@preact/signals)");
      const html = await (await fetch(`${gw.url}/`)).text();
      assert.doesNotMatch(html, /\["Signal",/);
    } finally {
      await gw.close();
    }
  });

  it("ships no JavaScript on a page without islands", async () => {
    const gw = await startGateway();
    try {
      const page = await measurePageJs(gw.url, "/runs/unknown-run");
      assert.deepEqual(page.scripts, []);
    } finally {
      await gw.close();
    }
  });
});
