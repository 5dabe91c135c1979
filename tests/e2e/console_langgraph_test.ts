/**
 * The console in real Chromium walking one run of a graph on a real LangGraph server
 * (`WORKFLOW_SERVICE_PROTOCOL=langgraph`): the picker offers the server's graphs, the steps come
 * from the graph, the interrupt is an approval card, and the approval completes the run.
 * @module
 */
import assert from "node:assert/strict";
import { buildIslands } from "../../lib/fresh/dev/build.ts";
import { startGateway } from "../fixtures/gateway.ts";
import { startLangGraph } from "../fixtures/langgraph_server.ts";
import { browserTest } from "./browser.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");
await buildIslands({ root: ROOT, ifMissing: true });

browserTest("console: a LangGraph server's graph through its approval", async ({ page }) => {
  const lg = await startLangGraph();
  const gw = await startGateway({
    WORKFLOW_SERVICE_PROTOCOL: "langgraph",
    WORKFLOW_SERVICE_URL: lg.url,
  });
  try {
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${gw.url}/`);
    await page.waitForSelector(".console[data-ready]");
    const options = await page.locator("#graph option").evaluateAll((els) =>
      els.map((e) => (e as HTMLOptionElement).value)
    );
    assert.deepEqual(options.sort(), ["approval_flow", "custom_flow", "failing_flow"]);
    await page.selectOption("#graph", "approval_flow");
    await page.fill("#prompt", "suite");
    await page.getByRole("button", { name: "Run workflow" }).click();

    const status = (text: string) =>
      page.getByTestId("status").filter({ hasText: new RegExp(`^${text}$`) }).waitFor();
    await status("waiting for approval");
    const state = (step: string) =>
      page.locator(`.step[data-step=${step}]`).getAttribute("data-state");
    assert.equal(await state("quote"), "done");
    assert.equal(await state("approval"), "waiting");
    assert.equal(await state("book"), "pending");
    assert.equal(await page.locator(".approval-message").textContent(), "Approve suite at $120?");

    await page.getByRole("button", { name: "Approve" }).click();
    await status("complete");
    assert.equal(await state("book"), "done");
    assert.deepEqual(errors, []);
  } finally {
    await gw.close();
    await lg.close();
  }
});
