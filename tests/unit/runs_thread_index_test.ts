/**
 * The run log's AG-UI thread index on a real Deno KV (`:memory:`): `listByThread` finds a
 * thread's runs newest first however many other runs were created after them, skips expired
 * runs, and the index entry is written in the same atomic write as the run.
 */
import assert from "node:assert/strict";
import type { RunSummary } from "../../lib/events.ts";
import { KvRunStore } from "../../lib/runs/mod.ts";
import { keys } from "../../lib/runs/kv_codec.ts";

const T0 = Date.UTC(2026, 0, 1);

function summary(id: string, threadId: string | undefined, createdMs: number): RunSummary {
  return {
    id,
    graph: "hotel_o2c",
    dialect: "agui",
    ...(threadId !== undefined ? { threadId } : {}),
    status: "running",
    createdAt: new Date(createdMs).toISOString(),
    updatedAt: new Date(createdMs).toISOString(),
    eventCount: 0,
  };
}

Deno.test("listByThread: a thread's runs, newest first, past many runs of other threads", async () => {
  const clock = { t: T0 };
  const kv = await Deno.openKv(":memory:");
  const store = new KvRunStore(kv, { ttlHours: 1, now: () => clock.t, ownsKv: true, watch: false });
  try {
    assert.ok(await store.create(summary("a1", "thread-a", T0)));
    assert.ok(await store.create(summary("a2", "thread-a", T0 + 1)));
    // More runs after them than a page of the run list holds: a list-and-filter would miss them.
    for (let i = 0; i < 120; i++) {
      assert.ok(await store.create(summary(`b${i}`, "thread-b", T0 + 10 + i)));
    }
    assert.ok(await store.create(summary("none", undefined, T0 + 500)));
    const a = await store.listByThread("thread-a");
    assert.deepEqual(a.map((r) => r.id), ["a2", "a1"]);
    assert.equal(a[0].threadId, "thread-a");
    assert.deepEqual((await store.listByThread("thread-a", 1)).map((r) => r.id), ["a2"]);
    assert.deepEqual(
      (await store.listByThread("thread-b", 3)).map((r) => r.id),
      ["b119", "b118", "b117"],
    );
    assert.deepEqual(await store.listByThread("thread-none"), []);
    // A run's index entry is there exactly when the run is: created in one atomic write.
    const entries = [];
    for await (const e of kv.list({ prefix: keys.threadIndexAll("thread-a") })) entries.push(e);
    assert.equal(entries.length, 2);
    // A second create of an existing id adds nothing.
    assert.equal(await store.create(summary("a1", "thread-a", T0 + 900)), false);
    assert.deepEqual((await store.listByThread("thread-a")).map((r) => r.id), ["a2", "a1"]);
    // Expired runs are not listed.
    clock.t = T0 + 2 * 3_600_000;
    assert.deepEqual(await store.listByThread("thread-a"), []);
  } finally {
    await store.close();
  }
});
