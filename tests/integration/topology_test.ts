/**
 * The seed's two-process topology with real processes: the built-in workflow service served
 * alone (`deno task workflow`) and gateways pointing at it through `WORKFLOW_SERVICE_URL`. A
 * whole run through its approval gate, and a gateway killed mid-run whose successor tells the
 * resuming client plainly what happened.
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

  it("reports relay_lost to a client resuming after its gateway was killed mid-run", async () => {
    const dir = await Deno.makeTempDir();
    const service = await spawnWorkflowService({ WORKFLOW_STEP_DELAY_MS: "1500" });
    const env = {
      WORKFLOW_SERVICE_URL: service.url,
      KV_PATH: `${dir}/runs.kv`,
      HEARTBEAT_MS: "200",
      RELAY_LEASE_MS: "600",
    };
    const victim = await spawnGateway(env);
    try {
      const res = await postJson(`${victim.url}/agui`, {
        graph_name: "hospital_admission",
        initial_state: { prompt: "Admit patient Jane Roe, 54, chest pain" },
      });
      const runId = res.headers.get("x-workflow-id")!;
      // Mid-run: the first step has started; its 1.5 s delay keeps the run going.
      const before = await readSse(res, (r) => r.frames.some((f) => f.event === "step_started"));
      victim.kill("SIGKILL");
      await victim.status;

      const successor = await startGateway(env);
      try {
        const resumed = await readSse(
          await fetch(`${successor.url}/agui/runs/${runId}/events`),
          undefined,
          10_000,
        );
        // Everything relayed before the kill is in the log, then one plain terminal.
        assert.deepEqual(resumed.frames.slice(0, before.frames.length), before.frames);
        assert.equal(resumed.frames.at(-1)!.event, "workflow_error");
        assert.equal(JSON.parse(resumed.frames.at(-1)!.data).code, "relay_lost");
        assert.equal(resumed.ended, true);
        const summary = await (await fetch(`${successor.url}/agui/runs/${runId}`)).json();
        assert.equal(summary.run.status, "error");
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
