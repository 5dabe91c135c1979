/**
 * The seed's two-process topology with real processes: the built-in workflow service served
 * alone (`deno task workflow`) and gateways pointing at it through `WORKFLOW_SERVICE_URL`. A
 * whole run through its approval gate, and a gateway killed mid-run whose successor takes the
 * run over (rejoining the service after the last event logged).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkEvent } from "../../lib/events.ts";
import { postJson, startGateway } from "../fixtures/gateway.ts";
import { spawnGateway, spawnWorkflowService } from "../fixtures/process.ts";
import { readSse, types } from "../fixtures/sse_reader.ts";

const TOKEN = "service-token-0123456789";

describe("gateway + `deno task workflow` as separate processes", () => {
  it("runs hotel_o2c end to end over HTTP, with the service token", async () => {
    const service = await spawnWorkflowService({
      WORKFLOW_SERVICE_TOKEN: TOKEN,
      WORKFLOW_STEP_DELAY_MS: "0",
    });
    const gw = await startGateway({
      WORKFLOW_SERVICE_URL: service.url,
      WORKFLOW_SERVICE_TOKEN: TOKEN,
    });
    try {
      const health = await (await fetch(`${gw.url}/health`)).json();
      assert.equal(health.workflow_service.mode, "external");
      assert.equal(health.workflow_service.reachable, true);
      const res = await postJson(`${gw.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: { prompt: "Create a hotel reservation for John Doe" },
      });
      assert.equal(res.status, 200);
      const runId = res.headers.get("x-workflow-id")!;
      const read = await readSse(res, (r) => {
        const gate = r.frames.find((f) => f.event === "approval_required");
        if (gate && !r.raw.includes(": decided")) {
          r.raw += ": decided";
          postJson(`${gw.url}/agui/runs/${runId}/approval`, {
            stepId: JSON.parse(gate.data).stepId,
            decision: "approve",
          }).then((a) => a.body?.cancel());
        }
        return false;
      }, 20_000);
      assert.equal(read.ended, true);
      assert.equal(types(read).at(-1), "workflow_complete");
      for (const f of read.frames) assert.ok(checkEvent(f.event, f.data).ok);
      assert.ok(types(read).includes("approval_resolved"));
    } finally {
      await gw.close();
      service.kill("SIGTERM");
      await service.status;
    }
  });

  it("a gateway killed mid-run: its successor takes the run over and the log goes on unbroken", async () => {
    const dir = await Deno.makeTempDir();
    const service = await spawnWorkflowService({
      WORKFLOW_STEP_DELAY_MS: "300",
      KV_PATH: `${dir}/workflow.kv`,
    });
    const env = {
      WORKFLOW_SERVICE_URL: service.url,
      KV_PATH: `${dir}/runs.kv`,
      HEARTBEAT_MS: "200",
      RELAY_LEASE_MS: "600",
      RELAY_SWEEP_MS: "200",
    };
    const victim = await spawnGateway(env);
    try {
      const res = await postJson(`${victim.url}/agui`, {
        graph_name: "hospital_admission",
        initial_state: { prompt: "Admit patient Jane Roe, 54, chest pain" },
      });
      const runId = res.headers.get("x-workflow-id")!;
      // Mid-run: the first step has started; its delay keeps the run going.
      const before = await readSse(res, (r) => r.frames.some((f) => f.event === "step_started"));
      victim.kill("SIGKILL");
      await victim.status;

      const successor = await startGateway(env);
      try {
        const resumed = await readSse(
          await fetch(`${successor.url}/agui/runs/${runId}/events`),
          (r) => r.frames.some((f) => f.event === "approval_required"),
          15_000,
        );
        // Everything relayed before the kill is in the log, then the rest: no gap, no repeat,
        // no error, up to the physician's approval.
        assert.deepEqual(resumed.frames.slice(0, before.frames.length), before.frames);
        assert.deepEqual(
          resumed.frames.map((f) => Number(f.id)),
          resumed.frames.map((_, i) => i + 1),
        );
        assert.ok(!types(resumed).includes("workflow_error"), types(resumed).join(" "));
        const completed = resumed.frames.filter((f) => f.event === "step_completed")
          .map((f) => JSON.parse(f.data).step);
        assert.deepEqual(completed, [...new Set(completed)], "no step logged twice");
        const summary = await (await fetch(`${successor.url}/agui/runs/${runId}`)).json();
        assert.equal(summary.run.status, "waiting_approval");
      } finally {
        await successor.close();
      }
    } finally {
      victim.kill();
      service.kill("SIGTERM");
      await service.status;
      await Deno.remove(dir, { recursive: true });
    }
  });
});
