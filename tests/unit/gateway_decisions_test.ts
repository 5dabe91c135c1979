/**
 * The one approval path, on two Gateway instances sharing one KV file (two processes' view of the
 * same run log): of concurrent decisions exactly one resumes the workflow, a retry of the same
 * decision is judged fine, another decision is a conflict, and a caller that lost the race waits
 * for the winner's record on the live tail without reading the store in a loop.
 */
import assert from "node:assert/strict";
import type { ExecuteRequest, RunSummary } from "../../lib/events.ts";
import { createLogger } from "../../lib/log.ts";
import { Metrics } from "../../lib/metrics.ts";
import { openKvRunStore, type RunStore } from "../../lib/runs/mod.ts";
import { GatewayError } from "../../lib/gateway/errors.ts";
import { Gateway } from "../../lib/gateway/relay.ts";
import type { Upstream } from "../../lib/gateway/upstream.ts";

const RUN = "run-1";
const STEP = "manager_approval";
const TS = "2026-01-01T00:00:00.000Z";

function frame(type: string, fields: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ workflowId: RUN, ts: TS, ...fields })}\n\n`;
}

/** A workflow service whose resume continues to the end; `hold` keeps resumes unanswered. */
function fakeUpstream() {
  const calls: ExecuteRequest[] = [];
  let release: () => void = () => {};
  let held: Promise<void> | null = null;
  const upstream: Upstream = {
    mode: "external",
    protocol: "execute",
    rejoin: () => Promise.resolve({ kind: "unsupported", reason: "test" }),
    isAfter: (a, b) => Number(a) > Number(b),
    async execute(body) {
      calls.push(body);
      if (held) await held;
      const status = body.resume?.decision === "reject" ? "rejected" : "complete";
      const text = frame("step_started", { step: "check_in" }) +
        frame("workflow_complete", { status, result: { status } });
      return new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(text));
          c.close();
        },
      });
    },
    abort: () => Promise.resolve(),
    health: () => Promise.resolve({ reachable: true, latency_ms: 0 }),
    graphs: () => Promise.resolve([]),
  };
  return {
    upstream,
    calls,
    hold() {
      held = new Promise((resolve) => release = resolve);
    },
    release() {
      held = null;
      release();
    },
  };
}

/** A run paused at the approval gate, as a relay would have logged it. */
async function pausedRun(store: RunStore): Promise<number> {
  const at = new Date().toISOString();
  const summary: RunSummary = {
    id: RUN,
    graph: "hotel_o2c",
    dialect: "agui",
    status: "running",
    createdAt: at,
    updatedAt: at,
    eventCount: 0,
  };
  await store.create(summary);
  const data = (fields: Record<string, unknown>) =>
    JSON.stringify({ workflowId: RUN, ts: TS, ...fields });
  const stored = await store.append(RUN, [
    { type: "workflow_initialized", data: data({ graph: "hotel_o2c" }) },
    { type: "approval_required", data: data({ stepId: STEP, message: "Approve?" }) },
  ], {
    status: "waiting_approval",
    pendingApproval: { stepId: STEP, message: "Approve?", since: at },
  });
  return stored[1].seq;
}

async function twoGateways() {
  const dir = await Deno.makeTempDir({ prefix: "decisions_" });
  const path = `${dir}/runs.kv`;
  const storeA = await openKvRunStore({ path, ttlHours: 1, watch: true, pollMs: 20 });
  const storeB = await openKvRunStore({ path, ttlHours: 1, watch: true, pollMs: 20 });
  const up = fakeUpstream();
  const logger = createLogger("error", () => {});
  const gw = (store: RunStore, id: string) =>
    new Gateway({ store, upstream: up.upstream, metrics: new Metrics(), logger, instanceId: id });
  const a = gw(storeA, "a");
  const b = gw(storeB, "b");
  return {
    a,
    b,
    storeA,
    storeB,
    up,
    async close() {
      for (const g of [a, b]) {
        await g.shutdown();
        await g.drain();
      }
      await storeA.close();
      await storeB.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function decisionsIn(events: { type: string; data: string }[]): string[] {
  return events.filter((e) => e.type === "approval_resolved").map((e) =>
    JSON.parse(e.data).decision
  );
}

Deno.test("concurrent decisions on two gateways: exactly one resumes the workflow", async () => {
  const t = await twoGateways();
  try {
    await pausedRun(t.storeA);
    const results = await Promise.allSettled([
      t.a.approve(RUN, { stepId: STEP, decision: "approve" }),
      t.b.approve(RUN, { stepId: STEP, decision: "reject" }),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.ok(lost[0].reason instanceof GatewayError);
    assert.equal(lost[0].reason.type, "not_waiting");
    assert.equal(t.up.calls.filter((c) => c.resume).length, 1, "one resume upstream");
    await t.a.drain();
    await t.b.drain();
    assert.equal(decisionsIn(await t.storeB.read(RUN, 0)).length, 1, "one decision logged");
  } finally {
    await t.close();
  }
});

Deno.test("decide: a retry of the same decision is fine, another one is decision_conflict", async () => {
  const t = await twoGateways();
  try {
    const gate = await pausedRun(t.storeA);
    const first = await t.a.decide(RUN, { stepId: STEP, decision: "approve" }, gate);
    assert.equal(first.recorded, true);
    const retry = await t.b.decide(RUN, { stepId: STEP, decision: "approve" }, gate);
    assert.deepEqual(retry, { recorded: false, decision: { decision: "approve" } });
    await assert.rejects(
      t.b.decide(RUN, { stepId: STEP, decision: "reject" }, gate),
      (err) =>
        err instanceof GatewayError && err.type === "decision_conflict" &&
        err.details?.decision === "approve",
    );
    await assert.rejects(
      t.b.approve(RUN, { stepId: STEP, decision: "approve" }),
      (err) => err instanceof GatewayError && err.type === "not_waiting",
      "the strict path (workflow dialect) refuses a decided gate",
    );
    assert.equal(t.up.calls.filter((c) => c.resume).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("a caller that lost the race waits on the live tail for the winner's record", async () => {
  const t = await twoGateways();
  try {
    const gate = await pausedRun(t.storeA);
    // A claims the gate, then the workflow service is slow to answer its resume: the decision
    // is not in the log yet when B arrives.
    t.up.hold();
    const winner = t.a.decide(RUN, { stepId: STEP, decision: "reject" }, gate);
    while (t.up.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    let reads = 0;
    const read = t.storeB.read.bind(t.storeB);
    const get = t.storeB.get.bind(t.storeB);
    t.storeB.read = (...args) => (reads++, read(...args));
    t.storeB.get = (...args) => (reads++, get(...args));
    let settled = false;
    const loser = t.b.decide(RUN, { stepId: STEP, decision: "approve" }, gate).finally(() =>
      settled = true
    );
    // Once B follows the run's tail, waiting reads nothing more (no polling loop).
    for (let i = 0; i < 1_000 && t.storeB.subscriberCount === 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(t.storeB.subscriberCount, 1, "B follows the live tail");
    const before = reads;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(settled, false, "B waits for the record while the gate is claimed");
    assert.equal(reads, before, "no summary or log reads while waiting");
    t.up.release();
    assert.equal((await winner).recorded, true);
    await assert.rejects(
      loser,
      (err) =>
        err instanceof GatewayError && err.type === "decision_conflict" &&
        err.details?.decision === "reject",
    );
  } finally {
    t.up.release();
    await t.close();
  }
});
