/**
 * The writer cache (`lib/runs/kv_head.ts`): a run remembered again keeps its place up to date
 * (its newest state, as the most recently used), and past the bound the least recently
 * remembered run is the one dropped.
 */
import assert from "node:assert/strict";
import type { RunSummary } from "../../lib/events.ts";
import type { HeadValue } from "../../lib/runs/kv_codec.ts";
import { WriterCache, type WriterState } from "../../lib/runs/kv_head.ts";

function state(seq: number): WriterState {
  return {
    head: { seq } as HeadValue,
    headVs: `h${seq}`,
    summary: { id: "r" } as RunSummary,
    runVs: `r${seq}`,
  };
}

Deno.test("the writer cache keeps a run's newest state and drops the least recently remembered", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const cache = new WriterCache(kv, Date.now);
    cache.remember("a", state(1));
    cache.remember("a", state(2));
    assert.equal(cache.peek("a")?.head.seq, 2);
    assert.equal((await cache.get("a")).headVs, "h2");
    // Fill to the bound (1024 runs), then touch "a" again: "r0" is now the least recent.
    for (let i = 0; i < 1023; i++) cache.remember(`r${i}`, state(i));
    cache.remember("a", state(3));
    cache.remember("new", state(0));
    assert.equal(cache.has("r0"), false);
    assert.equal(cache.has("a"), true);
    assert.equal(cache.peek("a")?.head.seq, 3);
    assert.equal(cache.has("r1"), true);
    cache.remember("newer", state(0));
    assert.equal(cache.has("r1"), false);
    assert.equal(cache.has("a"), true);
    cache.forget("a");
    assert.equal(cache.peek("a"), undefined);
  } finally {
    kv.close();
  }
});
