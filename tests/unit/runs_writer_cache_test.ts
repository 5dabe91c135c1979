/**
 * The writer cache (`lib/runs/kv_head.ts`): a run remembered again keeps its place up to date
 * (its newest state, as the most recently used), and when a new run passes the bound the
 * `EVICT_BATCH` least recently remembered runs are dropped at once, so the pass that finds them
 * is paid once per batch of new runs, not on every start.
 */
import assert from "node:assert/strict";
import type { RunSummary } from "../../lib/events.ts";
import type { HeadValue } from "../../lib/runs/kv_codec.ts";
import { EVICT_BATCH, MAX_WRITERS, WriterCache, type WriterState } from "../../lib/runs/kv_head.ts";

function state(seq: number): WriterState {
  return {
    head: { seq } as HeadValue,
    headVs: `h${seq}`,
    summary: { id: "r" } as RunSummary,
    runVs: `r${seq}`,
  };
}

Deno.test("the writer cache keeps a run's newest state and drops the least recently remembered in batches", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const cache = new WriterCache(kv, Date.now);
    cache.remember("a", state(1));
    cache.remember("a", state(2));
    assert.equal(cache.peek("a")?.head.seq, 2);
    assert.equal((await cache.get("a")).headVs, "h2");
    // Fill to the bound, then touch "a" again: r0 … are now the least recent.
    for (let i = 0; i < MAX_WRITERS - 1; i++) cache.remember(`r${i}`, state(i));
    cache.remember("a", state(3));
    for (let i = 0; i < MAX_WRITERS - 1; i++) assert.equal(cache.has(`r${i}`), true);
    // One new run past the bound: the EVICT_BATCH least recently remembered go together.
    cache.remember("new", state(0));
    for (let i = 0; i < EVICT_BATCH; i++) assert.equal(cache.has(`r${i}`), false, `r${i}`);
    assert.equal(cache.has(`r${EVICT_BATCH}`), true);
    assert.equal(cache.has("a"), true);
    assert.equal(cache.peek("a")?.head.seq, 3);
    assert.equal(cache.has("new"), true);
    // Room is left for the batch's worth of new runs before the next pass.
    for (let i = 1; i < EVICT_BATCH; i++) cache.remember(`n${i}`, state(i));
    assert.equal(cache.has(`r${EVICT_BATCH}`), true);
    cache.remember("one more", state(0));
    assert.equal(cache.has(`r${EVICT_BATCH}`), false);
    assert.equal(cache.has(`r${2 * EVICT_BATCH - 1}`), false);
    assert.equal(cache.has(`r${2 * EVICT_BATCH}`), true);
    assert.equal(cache.has("a"), true);
    cache.forget("a");
    assert.equal(cache.peek("a"), undefined);
  } finally {
    kv.close();
  }
});
