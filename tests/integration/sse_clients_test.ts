/**
 * SSE clients nobody here wrote, in Node processes (pinned in tests/peers), against the real
 * gateway through a loopback TCP proxy that cuts live connections:
 *
 * - `@microsoft/fetch-event-source` 2.0.1 POSTing `/agui` with `run_id`: after a cut it re-POSTs
 *   the same body with `last-event-id` and gets the rest of the same run, every event once; the
 *   first message it dispatches is an event (no empty one for a comment or `retry:` block);
 * - the same client without `run_id`: its retry gets 409 `run_id_required`, never a second run;
 * - npm `eventsource` 4.1.1 on `GET /agui/runs/:id/events`: across a cut it resumes with
 *   `Last-Event-ID`, every event once; in the AG-UI dialect a run paused at its gate keeps the one
 *   connection open and, once approved, goes on with a new RUN_STARTED on it.
 */
import assert from "node:assert/strict";
import { FAKE_TS, type FakeUpstream, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, startGateway } from "../fixtures/gateway.ts";
import { ignorePeers, type NodeLines, spawnNodeLines } from "../fixtures/node_peer.ts";
import { readSse } from "../fixtures/sse_reader.ts";
import { startTcpProxy } from "../fixtures/tcp_proxy.ts";

const FES = "tests/peers/fetch_event_source_client.cjs";
const ES = "tests/peers/eventsource_client.cjs";

/** An upstream run that moves on only when the test says so: 2 events, then 2, then 2. */
async function phasedUpstream(): Promise<{ fake: FakeUpstream; release: (i: number) => void }> {
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
  return { fake, release: (i) => phases[i].resolve() };
}

const messages = (c: NodeLines) =>
  c.lines.filter((l) => l.kind === "message" || l.kind === "event");
const opens = (c: NodeLines) => c.lines.filter((l) => l.kind === "open").length;

Deno.test({
  name:
    "fetch-event-source: a POST with run_id resumes the same run across a cut, every event once",
  ignore: ignorePeers(),
  async fn() {
    const { fake, release } = await phasedUpstream();
    const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, HEARTBEAT_MS: "300" });
    const proxy = startTcpProxy(gw.port);
    const runId = `fes-${crypto.randomUUID()}`;
    const body = { graph_name: "hotel_o2c", initial_state: { prompt: "x" }, run_id: runId };
    const client = spawnNodeLines(FES, [`${proxy.url}/agui`, JSON.stringify(body)]);
    try {
      await client.until((l) => l.id === "2");
      assert.equal(proxy.cutAll(), 1);
      await client.until(() => opens(client) === 2);
      release(0);
      release(1);
      await client.until((l) => l.kind === "done");
      assert.equal((await client.exit()).code, 0);
      const got = messages(client);
      assert.ok(got[0].data !== "", "the first dispatch is an event, not an empty message");
      const events = got.filter((m) => m.data !== "");
      assert.deepEqual(events.map((m) => m.id), ["1", "2", "3", "4", "5", "6"]);
      assert.equal(events.at(-1)!.event, "workflow_complete");
      assert.ok(events.every((m) => JSON.parse(String(m.data)).workflowId === runId));
      assert.equal(fake.executeCalls.length, 1, "one workflow started");
      assert.ok(client.lines.some((l) => l.kind === "error"), "the cut was seen as an error");
    } finally {
      release(0);
      release(1);
      await client.kill();
      await proxy.close();
      await gw.close();
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "fetch-event-source: a retried POST without run_id gets 409 run_id_required, never a second run",
  ignore: ignorePeers(),
  async fn() {
    const { fake, release } = await phasedUpstream();
    const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, HEARTBEAT_MS: "300" });
    const proxy = startTcpProxy(gw.port);
    const body = { graph_name: "hotel_o2c", initial_state: { prompt: "x" } };
    const client = spawnNodeLines(FES, [`${proxy.url}/agui`, JSON.stringify(body)]);
    try {
      await client.until((l) => l.id === "2");
      proxy.cutAll();
      const refused = await client.until((l) => l.kind === "refused");
      assert.equal(refused.status, 409);
      const err = refused.body as { error: string; message: string };
      assert.equal(err.error, "run_id_required");
      assert.match(err.message, /run_id/);
      assert.match(err.message, /\/agui\/runs\/:id\/events/);
      assert.equal((await client.exit()).code, 0);
      assert.equal(fake.executeCalls.length, 1, "the retry started no workflow");
      assert.equal((await gw.services.store.list()).runs.length, 1);
    } finally {
      release(0);
      release(1);
      await client.kill();
      await proxy.close();
      await gw.close();
      await fake.close();
    }
  },
});

Deno.test({
  name: "npm eventsource resumes GET /agui/runs/:id/events across a cut with Last-Event-ID",
  ignore: ignorePeers(),
  async fn() {
    const { fake, release } = await phasedUpstream();
    const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, HEARTBEAT_MS: "300" });
    const proxy = startTcpProxy(gw.port);
    let client: NodeLines | undefined;
    try {
      const res = await postJson(`${gw.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: { prompt: "x" },
      });
      const runId = res.headers.get("x-workflow-id")!;
      await res.body!.cancel();
      client = spawnNodeLines(ES, [`${proxy.url}/agui/runs/${runId}/events`, "workflow"]);
      await client.until((l) => l.id === "2");
      assert.equal(proxy.cutAll(), 1);
      await client.until(() => opens(client!) === 2);
      release(0);
      release(1);
      await client.until((l) => l.kind === "done");
      const events = messages(client);
      assert.deepEqual(events.map((m) => m.id), ["1", "2", "3", "4", "5", "6"]);
      assert.equal(events.at(-1)!.type, "workflow_complete");
    } finally {
      release(0);
      release(1);
      await client?.kill();
      await proxy.close();
      await gw.close();
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "npm eventsource, AG-UI dialect: a paused run keeps the stream open, then goes on with a new RUN_STARTED",
  ignore: ignorePeers(),
  async fn() {
    const gw = await startGateway({ HEARTBEAT_MS: "100" });
    const proxy = startTcpProxy(gw.port);
    let client: NodeLines | undefined;
    try {
      const runId = crypto.randomUUID();
      const res = await postJson(`${gw.url}/agui`, {
        threadId: "t-es",
        runId,
        messages: [{ id: "m1", role: "user", content: "Create a hotel reservation for John Doe" }],
        forwardedProps: { graph_name: "hotel_o2c" },
      });
      await readSse(res, undefined, 10_000);
      const url = `${proxy.url}/agui/runs/${runId}/events`;
      // The stream sends retry: (so a dropped client comes back at the gateway's pace).
      const raw = await readSse(
        await fetch(url),
        (r) => r.frames.some((f) => f.data.includes('"interrupt"')),
        10_000,
      );
      assert.equal(raw.retries.length, 1, "retry: is sent");
      assert.ok(raw.raw.startsWith("retry: "), "in the first block");

      const before = proxy.accepted;
      client = spawnNodeLines(ES, [url, "agui"]);
      const gate = await client.until((l) =>
        l.type === "RUN_FINISHED" && (l.data as { outcome?: unknown }).outcome !== undefined
      );
      const interrupt = (gate.data as { outcome: { interrupts: { id: string }[] } }).outcome
        .interrupts[0];
      // Several heartbeat intervals later the one connection is still open: no reconnect loop.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(proxy.accepted - before, 1, "one connection");
      assert.equal(proxy.open, 1, "still open while the run waits");

      const approve = await fetch(`${gw.url}/agui/runs/${runId}/approval`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ stepId: "manager_approval", decision: "approve" }),
      });
      assert.equal(approve.status, 202);
      await approve.body?.cancel();
      await client.until((l) => l.kind === "done");
      const types = messages(client).map((m) => m.type);
      assert.equal(types.filter((t) => t === "RUN_STARTED").length, 2);
      assert.equal(types.filter((t) => t === "RUN_FINISHED").length, 2);
      const second = types.lastIndexOf("RUN_STARTED");
      assert.equal(types[second - 1], "RUN_FINISHED", "a new AG-UI run after the interrupt");
      assert.equal(types[second + 1], "STATE_SNAPSHOT");
      assert.equal(types.at(-1), "RUN_FINISHED");
      assert.ok(interrupt.id.startsWith(runId));
      assert.equal(proxy.accepted - before, 1, "never reconnected");
      const run = (await (await fetch(`${gw.url}/agui/runs/${runId}`)).json()).run;
      assert.equal(run.status, "complete");
    } finally {
      await client?.kill();
      await proxy.close();
      await gw.close();
    }
  },
});
