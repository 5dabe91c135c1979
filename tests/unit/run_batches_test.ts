/**
 * The gateway's batch iterator over a run's log (`RunBatches`), on a real in-memory Deno KV:
 * batches in order until the terminal event, the watch held while it is open, and `return()`
 * ending a `next()` that waits for events at once (what a client leaving relies on).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RunSummary } from "../../lib/events.ts";
import { RelayLease } from "../../lib/gateway/relay_lease.ts";
import { RunBatches } from "../../lib/gateway/run_batches.ts";
import { silentLogger } from "../../lib/log.ts";
import { Metrics } from "../../lib/metrics.ts";
import { openKvRunStore } from "../../lib/runs/mod.ts";
import { runSummary } from "../fixtures/runs.ts";

const summary = (id: string): RunSummary => runSummary(id);

const ev = (type: string) => ({ type, data: JSON.stringify({ workflowId: "r", ts: "t" }) });

async function setup() {
  const store = await openKvRunStore({ path: ":memory:", ttlHours: 1, pollMs: 0 });
  const lease = new RelayLease({
    store,
    metrics: new Metrics(),
    logger: silentLogger,
    leaseMs: 60_000,
    now: Date.now,
    owner: "me",
    relayedHere: () => true,
    takeOver: () => Promise.resolve(),
  });
  return { store, lease };
}

describe("RunBatches", () => {
  it("yields the log in batches until the terminal event, watching the run meanwhile", async () => {
    const { store, lease } = await setup();
    try {
      assert.ok(await store.create(summary("r")));
      await store.append("r", [ev("workflow_initialized"), ev("step_started")]);
      const it = new RunBatches(lease, store, "r", 0);
      assert.equal(lease.watchedRuns, 1);
      const first = await it.next();
      assert.deepEqual(first.value?.map((e: { seq: number }) => e.seq), [1, 2]);
      const waiting = it.next();
      await store.append("r", [ev("step_completed"), ev("workflow_complete")]);
      const second = await waiting;
      assert.deepEqual(second.value?.map((e: { type: string }) => e.type), [
        "step_completed",
        "workflow_complete",
      ]);
      assert.equal(lease.watchedRuns, 0, "the terminal event ends the watch");
      assert.deepEqual(await it.next(), { done: true, value: undefined });
    } finally {
      await store.close();
    }
  });

  it("return() ends a next() that waits for events at once, and the watch", async () => {
    const { store, lease } = await setup();
    try {
      assert.ok(await store.create(summary("idle")));
      await store.append("idle", [ev("workflow_initialized")]);
      const it = new RunBatches(lease, store, "idle", 0);
      assert.equal((await it.next()).value?.length, 1);
      const waiting = it.next();
      let settled = false;
      waiting.then(() => settled = true);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(settled, false, "nothing to read: the call waits");
      await it.return();
      assert.deepEqual(await waiting, { done: true, value: undefined });
      assert.equal(lease.watchedRuns, 0);
      assert.equal(store.subscriberCount, 0, "the subscription ended");
    } finally {
      await store.close();
    }
  });
});
