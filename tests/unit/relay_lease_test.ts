/**
 * The relay-lost watchdog: one timer for every watched run (not one per run or per viewer),
 * checking each watched run that this process does not relay, on a real in-memory Deno KV.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RunSummary } from "../../lib/events.ts";
import { RelayLease } from "../../lib/gateway/relay_lease.ts";
import { silentLogger } from "../../lib/log.ts";
import { Metrics } from "../../lib/metrics.ts";
import { openKvRunStore } from "../../lib/runs/mod.ts";
import { runSummary } from "../fixtures/runs.ts";

function summary(id: string, owner: string): RunSummary {
  return runSummary(id, { relay: { owner, leaseUntil: Date.now() + 1000 } });
}

describe("RelayLease watchdog", () => {
  it("checks every watched run with one timer, skips runs relayed here, stops when unwatched", async () => {
    const store = await openKvRunStore({ path: ":memory:", ttlHours: 1, pollMs: 0 });
    const timers = new Set<number>();
    const realSet = globalThis.setInterval;
    const realClear = globalThis.clearInterval;
    try {
      // A process "dead" that never wrote a lease relays runs a and b; "here" is relayed by us.
      for (const id of ["a", "b", "here"]) assert.ok(await store.create(summary(id, "dead")));
      const taken: string[] = [];
      const lease = new RelayLease({
        store,
        metrics: new Metrics(),
        logger: silentLogger,
        leaseMs: 150,
        now: Date.now,
        owner: "me",
        relayedHere: (id) => id === "here",
        takeOver: (id) => {
          taken.push(id);
          return Promise.resolve();
        },
      });
      // Count the intervals the lease arms (the watchdog is its only setInterval here).
      globalThis.setInterval = ((fn: () => void, ms: number) => {
        const id = realSet(fn, ms) as unknown as number;
        timers.add(id);
        return id;
      }) as typeof setInterval;
      globalThis.clearInterval = ((id: number) => {
        timers.delete(id);
        realClear(id);
      }) as typeof clearInterval;
      for (let viewer = 0; viewer < 3; viewer++) {
        for (const id of ["a", "b", "here"]) lease.watch(id);
      }
      assert.equal(timers.size, 1, "one timer for all watched runs and viewers");
      assert.equal(lease.watchedRuns, 3);
      await new Promise((r) => setTimeout(r, 260));
      assert.ok(taken.filter((id) => id === "a").length >= 1, `a checked (${taken})`);
      assert.ok(taken.filter((id) => id === "b").length >= 1, `b checked (${taken})`);
      assert.ok(!taken.includes("here"), "a run relayed here is never handed over");
      // Two of three viewers leave: still watched.
      for (let viewer = 0; viewer < 2; viewer++) {
        for (const id of ["a", "b", "here"]) lease.unwatch(id);
      }
      assert.equal(lease.watchedRuns, 3);
      assert.equal(timers.size, 1);
      for (const id of ["a", "b", "here"]) lease.unwatch(id);
      assert.equal(lease.watchedRuns, 0);
      assert.equal(timers.size, 0, "the timer stops with the last watched run");
      lease.unwatch("a");
      assert.equal(lease.watchedRuns, 0, "an extra unwatch is a no-op");
      const before = taken.length;
      await new Promise((r) => setTimeout(r, 160));
      assert.equal(taken.length, before, "no check after the last unwatch");
    } finally {
      globalThis.setInterval = realSet;
      globalThis.clearInterval = realClear;
      await store.close();
    }
  });
});
