/**
 * Takeover in one process, against the scripted fake service (ids, rejoin endpoint) on a real
 * `Deno.serve`: two gateways sharing one run log. A graceful stop hands its relays over at once
 * (the other gateway hears of it through `kv.watch` and needs neither the lease to run out nor
 * a sweep: both are 60 s here); a client that resumes a run whose relay is gone triggers the
 * takeover itself; two gateways finding the same orphan claim it once.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openKvRunStore } from "../../lib/runs/mod.ts";
import { postJson, startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { FAKE_TS, type Script, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { runSummary } from "../fixtures/runs.ts";
import { readSse } from "../fixtures/sse_reader.ts";

/** Ten steps, 40 ms apart, then the end: long enough to stop a gateway in the middle. */
const tenSteps: Script = async (w, ctx) => {
  const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
  w.frame("workflow_initialized", { ...base, graph: ctx.request.graph_name });
  for (let i = 0; i < 10; i++) {
    w.frame("step_started", { ...base, step: `s${i}` });
    await new Promise((r) => setTimeout(r, 40));
    w.frame("step_completed", { ...base, step: `s${i}`, result: { i } });
  }
  w.frame("workflow_complete", { ...base, status: "success", result: null });
};

const SLOW = { RELAY_LEASE_MS: "60000", RELAY_SWEEP_MS: "60000", HEARTBEAT_MS: "200" };

async function twoGateways(url: string) {
  const store = await openKvRunStore({ path: ":memory:", ttlHours: 1 });
  const env = { WORKFLOW_SERVICE_URL: url, ...SLOW };
  const a = await startGateway(env, { store });
  const b = await startGateway(env, { store });
  return {
    a,
    b,
    async close(...open: TestGateway[]) {
      for (const g of open) await g.close();
      await store.close();
    },
  };
}

describe("takeover within one process", () => {
  it("a graceful stop hands its relay over at once; the run completes once, in order", async () => {
    const fake = await startFakeUpstream({ ids: true, rejoin: "replay", script: tenSteps });
    const { a, b, close } = await twoGateways(fake.url);
    let aOpen = true;
    try {
      const res = await postJson(`${a.url}/agui`, { graph_name: "hotel_o2c", initial_state: {} });
      const runId = res.headers.get("x-workflow-id")!;
      await readSse(res, (r) => r.frames.length >= 4);
      await a.close();
      aOpen = false;
      // Nobody subscribes yet: b takes the run over on hearing of the handover alone.
      for (let i = 0; i < 250; i++) {
        if (b.logs.some((l) => l.msg === "run taken over" && l.run_id === runId)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(
        b.logs.some((l) =>
          l.msg === "run taken over" && l.run_id === runId && l.reason === "sweep"
        ),
        "taken over before any client asked",
      );
      const read = await readSse(
        await fetch(`${b.url}/agui/runs/${runId}/events`),
        undefined,
        10_000,
      );
      assert.equal(read.frames.at(-1)!.event, "workflow_complete");
      assert.deepEqual(read.frames.map((f) => Number(f.id)), read.frames.map((_, i) => i + 1));
      // The log holds the service's events exactly: nothing lost, nothing twice.
      assert.deepEqual(read.frames.map((f) => f.data), fake.threadLog(runId).map((f) => f.data));
      assert.ok(b.logs.some((l) => l.msg === "run taken over" && l.run_id === runId));
      assert.deepEqual(fake.rejoinCalls.map((c) => c.threadId), [runId]);
      assert.deepEqual(fake.abortCalls, []);
      const metrics = await (await fetch(`${b.url}/metrics`)).text();
      assert.match(metrics, /workflow_relay_takeovers_total\{reason="sweep"\} 1\b/);
      assert.match(metrics, /workflow_upstream_rejoins_total\{outcome="stream"\} 1\b/);
    } finally {
      await close(...(aOpen ? [a, b] : [b]));
      await fake.close();
    }
  });

  it("two gateways that find the same orphan claim it once", async () => {
    const fake = await startFakeUpstream({ ids: true, rejoin: "replay", script: tenSteps });
    const { a, b, close } = await twoGateways(fake.url);
    const c = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, ...SLOW }, {
      store: a.services.store,
    });
    try {
      const res = await postJson(`${a.url}/agui`, { graph_name: "hotel_o2c", initial_state: {} });
      const runId = res.headers.get("x-workflow-id")!;
      await readSse(res, (r) => r.frames.length >= 3);
      // a stops: b and c both hear of it (and both sweep once more besides): one claim wins.
      await a.close();
      await Promise.all([b.services.gateway.sweep(), c.services.gateway.sweep()]);
      const read = await readSse(
        await fetch(`${c.url}/agui/runs/${runId}/events`),
        undefined,
        10_000,
      );
      assert.equal(read.frames.at(-1)!.event, "workflow_complete");
      assert.deepEqual(read.frames.map((f) => f.data), fake.threadLog(runId).map((f) => f.data));
      const takers = [b, c].filter((g) =>
        g.logs.some((l) => l.msg === "run taken over" && l.run_id === runId)
      );
      assert.equal(takers.length, 1, "exactly one gateway took the run");
    } finally {
      await c.close();
      await close(b);
      await fake.close();
    }
  });

  it("a sweep finds an orphan among more than a thousand running runs of live relays", async () => {
    const fake = await startFakeUpstream({ ids: true, rejoin: "replay", script: tenSteps });
    const store = await openKvRunStore({ path: ":memory:", ttlHours: 1 });
    const b = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, ...SLOW }, { store });
    try {
      const until = Date.now() + 60_000;
      await store.setRelayAlive("live", until);
      for (let i = 0; i < 1_100; i++) {
        await store.create(
          runSummary(`live-${i}`, { relay: { owner: "live", leaseUntil: until } }),
        );
      }
      // Its id sorts after every other: a sweep that read the first thousand runs never saw it.
      const orphan = "zz-orphan";
      await store.create(runSummary(orphan, { relay: { owner: "gone", leaseUntil: 1 } }));
      await b.services.gateway.sweep();
      const taken = b.logs.filter((l) => l.msg === "run taken over").map((l) => l.run_id);
      assert.deepEqual(taken, [orphan]);
      assert.deepEqual(fake.rejoinCalls.map((c) => c.threadId), [orphan]);
      const owner = (await store.get(orphan))!.relay?.owner;
      assert.ok(owner !== undefined && owner !== "gone" && owner !== "live", String(owner));
    } finally {
      await b.close();
      await store.close();
      await fake.close();
    }
  });

  it("a decision accepted by a relay that died before the service got it is sent again, not lost", async () => {
    const fake = await startFakeUpstream({ ids: true, rejoin: "replay", script: "hotel" });
    const { a, b, close } = await twoGateways(fake.url);
    try {
      const res = await postJson(`${a.url}/agui`, { graph_name: "hotel_o2c", initial_state: {} });
      const runId = res.headers.get("x-workflow-id")!;
      const first = await readSse(res, (r) => r.frames.at(-1)?.event === "approval_required");
      const stepId = String(JSON.parse(first.frames.at(-1)!.data).stepId);
      // What a relay that answered 202 and was killed before calling the service leaves: the
      // decision claimed (the run `running`, its relay a process whose lease is gone), no
      // approval_resolved logged, the service still waiting at its gate.
      await a.services.store.update(runId, {
        status: "running",
        pendingApproval: undefined,
        relay: { owner: "a-process-that-died", leaseUntil: 1 },
        decisionInFlight: { stepId, decision: "approve" },
      });
      await b.services.gateway.sweep();
      const read = await readSse(
        await fetch(`${b.url}/agui/runs/${runId}/events`),
        (r) => r.frames.at(-1)?.event === "workflow_complete",
        10_000,
      );
      const types = read.frames.map((f) => f.event);
      assert.equal(types.at(-1), "workflow_complete", "the run went on without a second decision");
      assert.equal(types.filter((t) => t === "approval_resolved").length, 1);
      assert.deepEqual(read.frames.map((f) => Number(f.id)), read.frames.map((_, i) => i + 1));
      const resumes = fake.executeCalls.filter((c) => c.resume !== undefined);
      assert.deepEqual(resumes.map((c) => c.resume), [{ stepId, decision: "approve" }]);
      const run = (await (await fetch(`${b.url}/agui/runs/${runId}`)).json()).run;
      assert.equal(run.decisionInFlight, undefined, "the in-flight decision is not public");
    } finally {
      await close(a, b);
      await fake.close();
    }
  });

  it("a rejoined stream that runs on past its gate: the decision's continuation is logged once", async () => {
    const gateNow = Promise.withResolvers<void>();
    const hold = Promise.withResolvers<void>();
    // The first segment reaches its gate only when told, then stays open: a follower of the
    // thread (the takeover's rejoin) sees the continuation a decision starts.
    const gated: Script = async (w, ctx) => {
      const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
      if (ctx.request.resume) {
        w.frame("approval_resolved", { ...base, stepId: "gate", decision: "approve" });
        await w.pause(30);
        w.frame("step_started", { ...base, step: "after" });
        w.frame("step_completed", { ...base, step: "after", result: {} });
        w.frame("workflow_complete", { ...base, status: "success", result: null });
        hold.resolve();
        return;
      }
      w.frame("workflow_initialized", { ...base, graph: ctx.request.graph_name });
      w.frame("step_started", { ...base, step: "gate" });
      await gateNow.promise;
      w.frame("approval_required", { ...base, stepId: "gate", message: "ok?" });
      await hold.promise;
    };
    const fake = await startFakeUpstream({ ids: true, rejoin: "replay", script: gated });
    const { a, b, close } = await twoGateways(fake.url);
    let aOpen = true;
    let decided: Promise<number> | undefined;
    try {
      const res = await postJson(`${a.url}/agui`, { graph_name: "hotel_o2c", initial_state: {} });
      const runId = res.headers.get("x-workflow-id")!;
      await readSse(res, (r) => r.frames.length >= 2);
      await a.close();
      aOpen = false;
      for (let i = 0; i < 250 && fake.rejoinCalls.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(fake.rejoinCalls.length, 1, "b rejoined the thread");
      gateNow.resolve();
      const read = await readSse(await fetch(`${b.url}/agui/runs/${runId}/events`), (r) => {
        if (r.frames.at(-1)?.event === "approval_required" && !decided) {
          decided = postJson(`${b.url}/agui/runs/${runId}/approval`, {
            stepId: "gate",
            decision: "approve",
          }).then(async (x) => (await x.body?.cancel(), x.status));
        }
        return false;
      }, 10_000);
      assert.deepEqual(read.frames.map((f) => f.event), [
        "workflow_initialized",
        "step_started",
        "approval_required",
        "approval_resolved",
        "step_started",
        "step_completed",
        "workflow_complete",
      ]);
      assert.equal(await decided, 202, "the decision was accepted");
      // The log keeps the gateway's record of the decision, not the service's echo of it.
      assert.notEqual(JSON.parse(read.frames[3].data).ts, FAKE_TS);
    } finally {
      hold.resolve();
      gateNow.resolve();
      await close(...(aOpen ? [a, b] : [b]));
      await fake.close();
    }
  });
});
