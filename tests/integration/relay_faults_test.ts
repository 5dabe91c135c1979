/**
 * The relay under faults, with the real gateway and a scripted fake upstream on `Deno.serve`:
 * an upstream frame over the parser's limit, an event bigger than one KV write, decisions sent
 * at once to two gateways sharing one KV file, an abort handled by a gateway that does not relay
 * the run, a run log that refuses writes, and a shutdown while `/execute` is still waiting.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RunSummary } from "../../lib/events.ts";
import { DEFAULT_MAX_FRAME_CHARS } from "../../lib/sse/parse.ts";
import { openKvRunStore, type RunStore } from "../../lib/runs/mod.ts";
import { FAKE_TS, type FakeUpstream, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, relayToFake, startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { datas, readSse, types } from "../fixtures/sse_reader.ts";
import { poll } from "../fixtures/within.ts";

const BODY = { graph_name: "hotel_o2c", initial_state: { prompt: "Create a hotel reservation" } };

function errorLogs(gw: TestGateway, runId: string) {
  return gw.logs.filter((l) => l.level === "error" && l.run_id === runId);
}

async function waitStatus(
  gw: TestGateway,
  runId: string,
  ok: (s: RunSummary) => boolean,
): Promise<RunSummary> {
  const run = await poll(
    async () => {
      const run = await gw.services.store.get(runId);
      return run && ok(run) ? run : undefined;
    },
    400,
    10,
  );
  if (!run) throw new Error(`run ${runId} never reached the expected state`);
  return run;
}

describe("relay faults (one gateway)", () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  relayToFake({ env: { HEARTBEAT_MS: "1000" } }, (p) => ({ fake, gw } = p));

  it("ends a run whose upstream frame is over the parser's limit with a terminal error", async () => {
    fake.setScript((w, ctx) => {
      const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
      w.frame("workflow_initialized", { ...base, graph: "hotel_o2c" });
      // Over the limit by more than one upstream read can bring, so the parser trips mid-frame.
      w.raw("event: artifact\ndata: " + "x".repeat(DEFAULT_MAX_FRAME_CHARS + 1024 * 1024));
      w.raw("\n\n");
      w.frame("workflow_complete", { ...base, status: "complete", result: {} });
    });
    const malformed0 = gw.services.metrics.malformedFrames.get();
    const runId = crypto.randomUUID();
    const read = await readSse(await postJson(`${gw.url}/agui`, { ...BODY, run_id: runId }));
    assert.ok(read.ended, "the stream ends; it is not left hanging");
    assert.deepEqual(types(read), ["workflow_initialized", "workflow_error"]);
    assert.equal(datas(read)[1].code, "upstream_frame_too_large");
    assert.equal(gw.services.metrics.malformedFrames.get(), malformed0 + 1);
    assert.equal(errorLogs(gw, runId).length, 1, "logged once, with the run id");
    await fake.waitFor((f) => f.abortCalls.includes(runId));
  });

  it("skips one frame with an over-long event name and keeps the events read with it", async () => {
    fake.setScript((w, ctx) => {
      const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
      // One write: the bad frame arrives between valid ones, in the same upstream read.
      w.raw(
        `event: workflow_initialized\ndata: ${JSON.stringify({ ...base, graph: "g" })}\n\n` +
          `event: ${"n".repeat(1_100)}\ndata: ${JSON.stringify(base)}\n\n` +
          `event: step_started\ndata: ${JSON.stringify({ ...base, step: "payment" })}\n\n` +
          `event: step_completed\ndata: ${
            JSON.stringify({ ...base, step: "payment", result: { paid: 42 } })
          }\n\n` +
          `event: bad name\ndata: ${JSON.stringify(base)}\n\n` +
          `event: workflow_complete\ndata: ${
            JSON.stringify({ ...base, status: "complete", result: {} })
          }\n\n`,
      );
    });
    const malformed0 = gw.services.metrics.malformedFrames.get();
    const runId = crypto.randomUUID();
    const read = await readSse(await postJson(`${gw.url}/agui`, { ...BODY, run_id: runId }));
    assert.deepEqual(types(read), [
      "workflow_initialized",
      "step_started",
      "step_completed",
      "workflow_complete",
    ]);
    assert.deepEqual(datas(read)[2].result, { paid: 42 });
    assert.equal(gw.services.metrics.malformedFrames.get(), malformed0 + 2);
    assert.equal((await gw.services.store.get(runId))?.status, "complete");
    assert.deepEqual(errorLogs(gw, runId), []);
  });

  it("stores an event bigger than one KV write together with the terminal read with it", async () => {
    const content = "z".repeat(700 * 1024);
    fake.setScript((w, ctx) => {
      const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
      // One write: the big artifact and the terminal event arrive in the same upstream read.
      w.raw(
        `event: workflow_initialized\ndata: ${JSON.stringify({ ...base, graph: "g" })}\n\n` +
          `event: artifact\ndata: ${
            JSON.stringify({ ...base, name: "scan", mime: "text/plain", content })
          }\n\n` +
          `event: workflow_complete\ndata: ${
            JSON.stringify({ ...base, status: "complete", result: {} })
          }\n\n`,
      );
    });
    const runId = crypto.randomUUID();
    const live = await readSse(await postJson(`${gw.url}/agui`, { ...BODY, run_id: runId }));
    assert.deepEqual(types(live), ["workflow_initialized", "artifact", "workflow_complete"]);
    assert.equal(datas(live)[1].content, content);
    const replay = await readSse(await fetch(`${gw.url}/agui/runs/${runId}/events`));
    assert.equal(datas(replay)[1].content, content);
    assert.equal((await gw.services.store.get(runId))?.status, "complete");
    assert.deepEqual(errorLogs(gw, runId), []);
  });

  it("answers 503 and records the run's end when shutdown comes while /execute waits", async () => {
    const fake2 = await startFakeUpstream({ script: "silent" });
    const gw2 = await startGateway({
      WORKFLOW_SERVICE_URL: fake2.url,
      UPSTREAM_TIMEOUT_MS: "30000",
    });
    try {
      const runId = crypto.randomUUID();
      const pending = postJson(`${gw2.url}/agui`, { ...BODY, run_id: runId });
      await fake2.waitFor((f) => f.executeCalls.length === 1);
      // Bounded: without the abort, close() would wait for the 30 s upstream timeout.
      await Promise.race([
        gw2.services.close(),
        new Promise((_, reject) => setTimeout(() => reject(new Error("close hung")), 10_000)),
      ]);
      const res = await pending;
      assert.equal(res.status, 503);
      assert.equal((await res.json()).error, "shutting_down");
    } finally {
      await gw2.close();
      await fake2.close();
    }
  });
});

describe("relay faults (a run log that refuses writes)", () => {
  it("fails the run loudly with log_write_failed and stops it upstream", async () => {
    const fake = await startFakeUpstream();
    const real = await openKvRunStore({ path: ":memory:", ttlHours: 1 });
    let refused = 0;
    // The real store, except that appends of step_completed fail: a KV outage mid-run.
    const store: RunStore = {
      create: (s) => real.create(s),
      get: (id) => real.get(id),
      append: (id, events, patch, opts) => {
        if (events.some((e) => e.type === "step_completed")) {
          refused++;
          return Promise.reject(new Error("database unavailable"));
        }
        return real.append(id, events, patch, opts);
      },
      update: (id, patch, opts) => real.update(id, patch, opts),
      read: (id, after, limit) => real.read(id, after, limit),
      subscribe: (id, after, signal) => real.subscribe(id, after, signal),
      setRelayAlive: (owner, until) => real.setRelayAlive(owner, until),
      relayAliveUntil: (owner) => real.relayAliveUntil(owner),
      list: (q) => real.list(q),
      runningOwners: () => real.runningOwners(),
      runningOf: (owner) => real.runningOf(owner),
      listByThread: (t, n) => real.listByThread(t, n),
      close: () => Promise.resolve(),
    };
    const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url }, { store });
    try {
      fake.setScript((w, ctx) => {
        const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
        w.frame("workflow_initialized", { ...base, graph: "g" });
        w.frame("step_started", { ...base, step: "a" });
        return w.pause(50).then(() => {
          w.frame("step_completed", { ...base, step: "a", result: 1 });
          return w.idle();
        });
      });
      const runId = crypto.randomUUID();
      const read = await readSse(await postJson(`${gw.url}/agui`, { ...BODY, run_id: runId }));
      assert.deepEqual(types(read), ["workflow_initialized", "step_started", "workflow_error"]);
      assert.equal(datas(read)[2].code, "log_write_failed");
      assert.ok(refused >= 5, "the relay retried before giving up");
      await fake.waitFor((f) => f.abortCalls.includes(runId));
      assert.equal((await real.get(runId))?.status, "error");
    } finally {
      await gw.close();
      await real.close();
      await fake.close();
    }
  });
});

describe("relay faults (two gateways on one KV file)", () => {
  let fake: FakeUpstream;
  let dir: string;
  let a: TestGateway;
  let b: TestGateway;
  before(async () => {
    fake = await startFakeUpstream();
    dir = await Deno.makeTempDir({ prefix: "relay_faults_" });
    const env = {
      WORKFLOW_SERVICE_URL: fake.url,
      KV_PATH: `${dir}/runs.kv`,
      HEARTBEAT_MS: "1000",
    };
    a = await startGateway(env);
    b = await startGateway(env);
  });
  after(async () => {
    await a.close();
    await b.close();
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  });

  it("takes exactly one of several decisions sent at once to both gateways", async () => {
    fake.setScript("hotel");
    const runId = crypto.randomUUID();
    const first = await readSse(
      await postJson(`${a.url}/agui`, { ...BODY, run_id: runId }),
      (r) => r.frames.some((f) => f.event === "approval_required"),
    );
    const stepId = String(datas(first).at(-1)!.stepId);
    await waitStatus(a, runId, (s) => s.status === "waiting_approval");
    const executes = fake.executeCalls.length;
    const decide = (gw: TestGateway, decision: string) =>
      postJson(`${gw.url}/agui/runs/${runId}/approval`, { stepId, decision })
        .then(async (res) => ({ status: res.status, body: await res.json() }));
    const answers = await Promise.all([
      decide(a, "approve"),
      decide(b, "reject"),
      decide(a, "approve"),
      decide(b, "approve"),
    ]);
    assert.equal(answers.filter((x) => x.status === 202).length, 1, JSON.stringify(answers));
    for (const x of answers.filter((x) => x.status !== 202)) {
      assert.equal(x.status, 409);
      assert.equal(x.body.error, "not_waiting");
    }
    await waitStatus(a, runId, (s) => s.status === "complete" || s.status === "rejected");
    assert.equal(fake.executeCalls.length, executes + 1, "the thread was resumed once");
    const log = await a.services.store.read(runId, 0);
    assert.equal(log.filter((e) => e.type === "approval_resolved").length, 1);
  });

  it("an abort on the gateway that does not relay the run ends it once, with no error", async () => {
    fake.setScript(async (w, ctx) => {
      const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
      w.frame("workflow_initialized", { ...base, graph: "g" });
      w.frame("step_started", { ...base, step: "long" });
      while (!w.aborted && !w.cancelled) await w.pause(5);
      if (w.aborted) w.frame("workflow_aborted", { ...base });
    });
    const runId = crypto.randomUUID();
    const res = await postJson(`${a.url}/agui`, { ...BODY, run_id: runId });
    await waitStatus(a, runId, (s) => s.eventCount >= 2);
    const abort = await fetch(`${b.url}/agui/runs/${runId}/abort`, { method: "POST" });
    assert.equal(abort.status, 202);
    const read = await readSse(res);
    assert.equal(read.frames.at(-1)!.event, "workflow_aborted");
    const log = await a.services.store.read(runId, 0);
    const terminals = log.filter((e) =>
      ["workflow_aborted", "workflow_error", "workflow_complete"].includes(e.type)
    );
    assert.deepEqual(terminals.map((e) => e.type), ["workflow_aborted"]);
    assert.deepEqual(errorLogs(a, runId), [], "the relaying gateway logs no error");
    assert.deepEqual(errorLogs(b, runId), []);
  });
});
