/**
 * The browser's native `EventSource` against `GET /agui/runs/:id/events`: it receives the run's
 * events with their ids, and once the run is over the gateway's 204 stops its reconnect loop.
 */
import assert from "node:assert/strict";
import { startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, startGateway } from "../fixtures/gateway.ts";
import { readSse } from "../fixtures/sse_reader.ts";
import { browserTest } from "./browser.ts";

browserTest("native EventSource replays a run and stops after it ends", async ({ page }) => {
  const fake = await startFakeUpstream({ script: "complete" });
  const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, HEARTBEAT_MS: "200" });
  try {
    const res = await postJson(`${gw.url}/agui`, {
      graph_name: "hotel_o2c",
      initial_state: { prompt: "x" },
    });
    const runId = res.headers.get("x-workflow-id")!;
    await readSse(res);
    await page.goto(`${gw.url}/health`);
    const got = await page.evaluate(async (id: string) => {
      const seen: { id: string; type: string }[] = [];
      const es = new EventSource(`/agui/runs/${id}/events`);
      const types = ["workflow_initialized", "step_started", "step_completed", "workflow_complete"];
      for (const t of types) {
        es.addEventListener(t, (e) => seen.push({ id: (e as MessageEvent).lastEventId, type: t }));
      }
      // After the terminal event the server closes; EventSource reconnects with Last-Event-ID,
      // gets 204 and must give up (readyState CLOSED) instead of looping.
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if (es.readyState === EventSource.CLOSED) {
            clearInterval(timer);
            resolve();
          }
        }, 50);
        setTimeout(() => {
          clearInterval(timer);
          resolve();
        }, 8000);
      });
      const state = es.readyState;
      es.close();
      return { seen, state };
    }, runId);
    assert.deepEqual(got.seen.map((s) => s.id), ["1", "2", "3", "4"]);
    assert.equal(got.seen.at(-1)!.type, "workflow_complete");
    assert.equal(got.state, 2, "EventSource stopped reconnecting (CLOSED)");
  } finally {
    await gw.close();
    await fake.close();
  }
});
