/**
 * The default one-command setup (`main.ts`, built-in service in-process) on a KV file: a run
 * waiting for approval survives three restarts of the gateway process, then the approval is
 * accepted and the run completes with one unbroken sequence in the run log.
 */
import assert from "node:assert/strict";
import { checkEvent } from "../../lib/events.ts";
import { postJson } from "../fixtures/gateway.ts";
import { spawnGateway } from "../fixtures/process.ts";
import { readSse } from "../fixtures/sse_reader.ts";

Deno.test("one-command setup: a waiting run survives 3 gateway restarts, then completes", async () => {
  const dir = await Deno.makeTempDir();
  const env = { KV_PATH: `${dir}/runs.kv`, WORKFLOW_STEP_DELAY_MS: "0", HEARTBEAT_MS: "200" };
  let gw = await spawnGateway(env);
  try {
    const res = await postJson(`${gw.url}/agui`, {
      graph_name: "purchase_order",
      initial_state: { prompt: "Order 20 laptops from Acme Corp at $1,200 each for Engineering" },
    });
    assert.equal(res.status, 200);
    const runId = res.headers.get("x-workflow-id")!;
    const before = await readSse(res, (r) => r.frames.some((f) => f.event === "approval_required"));
    for (const signal of ["SIGTERM", "SIGKILL", "SIGINT"] as const) {
      gw.kill(signal);
      await gw.status;
      gw = await spawnGateway(env);
    }
    const approval = await postJson(`${gw.url}/agui/runs/${runId}/approval`, {
      stepId: "finance_approval",
      decision: "approve",
    });
    assert.equal(approval.status, 202, await approval.text());
    const all = await readSse(
      await fetch(`${gw.url}/agui/runs/${runId}/events`),
      undefined,
      20_000,
    );
    assert.equal(all.ended, true);
    assert.deepEqual(all.frames.slice(0, before.frames.length), before.frames);
    const events = all.frames.map((f) => f.event);
    assert.equal(events.at(-1), "workflow_complete");
    assert.equal(JSON.parse(all.frames.at(-1)!.data).status, "success");
    assert.deepEqual(all.frames.map((f) => Number(f.id)), all.frames.map((_, i) => i + 1));
    for (const f of all.frames) assert.ok(checkEvent(f.event, f.data).ok);
    const completed = all.frames.filter((f) => f.event === "step_completed").map((f) =>
      JSON.parse(f.data).step
    );
    assert.deepEqual(completed, [
      "requisition",
      "budget_check",
      "finance_approval",
      "issue_po",
      "goods_receipt",
      "three_way_match",
    ]);
  } finally {
    gw.kill("SIGKILL");
    await gw.status;
    await Deno.remove(dir, { recursive: true });
  }
});
