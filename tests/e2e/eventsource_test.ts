/**
 * The browser's native `EventSource` against `GET /agui/runs/:id/events`: it receives the run's
 * events with their ids, and once the run is over the gateway's 204 stops its reconnect loop;
 * joining a running run, a stream cut by a loopback TCP proxy is resumed with `Last-Event-ID`,
 * each id arriving once.
 */
import assert from "node:assert/strict";
import { FAKE_TS, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, startGateway } from "../fixtures/gateway.ts";
import { readSse } from "../fixtures/sse_reader.ts";
import { startTcpProxy } from "../fixtures/tcp_proxy.ts";
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

browserTest(
  "native EventSource joins a running run, reconnects with Last-Event-ID after a cut, and stops after the terminal",
  async ({ page }) => {
    // The upstream run moves on only when the test says so, so each phase is deterministic.
    const phases = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
    const fake = await startFakeUpstream({
      script: async (w, ctx) => {
        const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
        w.frame("workflow_initialized", { ...base, graph: ctx.request.graph_name });
        w.frame("step_started", { ...base, step: "a" });
        await Promise.race([phases[0].promise, w.idle()]);
        w.frame("step_completed", { ...base, step: "a", result: 1 });
        w.frame("step_started", { ...base, step: "b" });
        await Promise.race([phases[1].promise, w.idle()]);
        w.frame("step_completed", { ...base, step: "b", result: 2 });
        w.frame("workflow_complete", { ...base, status: "complete", result: { done: true } });
      },
    });
    const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, HEARTBEAT_MS: "200" });
    // The page talks to the gateway through a proxy that can cut its live connection.
    const proxy = startTcpProxy(gw.port);
    try {
      const runId = "es-mid-run";
      const res = await postJson(`${gw.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: { prompt: "x" },
        run_id: runId,
      });
      assert.equal(res.status, 200);
      await readSse(res, (r) => r.frames.length >= 2); // the run is live; this client leaves
      await page.goto(`${proxy.url}/health`);
      await page.evaluate((id: string) => {
        const w = globalThis as unknown as {
          seen: { id: string; type: string }[];
          es: EventSource;
        };
        w.seen = [];
        w.es = new EventSource(`/agui/runs/${id}/events`);
        const types = [
          "workflow_initialized",
          "step_started",
          "step_completed",
          "workflow_complete",
        ];
        for (const t of types) {
          w.es.addEventListener(
            t,
            (e) => w.seen.push({ id: (e as MessageEvent).lastEventId, type: t }),
          );
        }
      }, runId);
      const seenCount = (n: number) => `globalThis.seen && globalThis.seen.length >= ${n}`;
      await page.waitForFunction(seenCount(2));

      // Cut the live stream; the run goes on meanwhile, and EventSource reconnects by itself.
      assert.ok(proxy.cutAll() >= 1, "the page's stream was cut");
      phases[0].resolve();
      await page.waitForFunction(seenCount(4));
      assert.ok(proxy.accepted >= 2, "EventSource opened a new connection");

      // The terminal: the server closes, the next reconnect gets 204 and EventSource gives up.
      phases[1].resolve();
      await page.waitForFunction(
        "globalThis.es.readyState === EventSource.CLOSED && globalThis.seen.length >= 6",
      );
      const seen = await page.evaluate(() =>
        (globalThis as unknown as { seen: { id: string; type: string }[] }).seen
      );
      // Each id once: a reconnect that ignored Last-Event-ID would replay 1 and 2 again.
      assert.deepEqual(seen.map((s) => s.id), ["1", "2", "3", "4", "5", "6"]);
      assert.deepEqual(seen.map((s) => s.type), [
        "workflow_initialized",
        "step_started",
        "step_completed",
        "step_started",
        "step_completed",
        "workflow_complete",
      ]);
      // Three connections: the first, the one after the cut, and the one answered 204.
      assert.ok(proxy.accepted >= 3, `${proxy.accepted} connections`);
    } finally {
      phases[0].resolve();
      phases[1].resolve();
      await page.goto("about:blank").catch(() => {});
      await proxy.close();
      await gw.close();
      await fake.close();
    }
  },
);
