import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { unwatchAbort, watchAbort } from "../../lib/abort_watch.ts";
import { raceAbort } from "../../lib/async.ts";

/** A signal that counts the listeners added to it and removed from it. */
function countedSignal(): { ac: AbortController; added: () => number; removed: () => number } {
  const ac = new AbortController();
  let added = 0;
  let removed = 0;
  const add = ac.signal.addEventListener.bind(ac.signal);
  const remove = ac.signal.removeEventListener.bind(ac.signal);
  ac.signal.addEventListener = (...args: Parameters<typeof add>) => {
    added++;
    add(...args);
  };
  ac.signal.removeEventListener = (...args: Parameters<typeof remove>) => {
    removed++;
    remove(...args);
  };
  return { ac, added: () => added, removed: () => removed };
}

describe("watchAbort", () => {
  it("gives the signal one listener however many watch it, and tells each watcher once", () => {
    const { ac, added, removed } = countedSignal();
    const told = new Map<number, number>();
    const watchers = Array.from({ length: 1000 }, (_, i) => ({
      handleEvent: () => told.set(i, (told.get(i) ?? 0) + 1),
    }));
    for (const w of watchers) watchAbort(ac.signal, w);
    for (const w of watchers.slice(0, 400)) unwatchAbort(ac.signal, w);
    assert.equal(added(), 1, "one listener on the signal");
    assert.equal(removed(), 0, "unwatching does not touch the signal's list");
    ac.abort(new Error("stop"));
    ac.abort(new Error("again"));
    assert.equal(told.size, 600, "only the watchers still watching are told");
    for (const [i, n] of told) {
      assert.ok(i >= 400, `watcher ${i} was unwatched`);
      assert.equal(n, 1, `watcher ${i} told once`);
    }
  });

  it("takes functions too; a watcher that throws is reported and the others still run", () => {
    const ac = new AbortController();
    const order: string[] = [];
    const reported: unknown[] = [];
    const onError = (e: ErrorEvent) => {
      e.preventDefault();
      reported.push(e.error);
    };
    globalThis.addEventListener("error", onError);
    try {
      watchAbort(ac.signal, () => order.push("a"));
      watchAbort(ac.signal, () => {
        throw new Error("boom");
      });
      watchAbort(ac.signal, { handleEvent: () => order.push("c") });
      ac.abort();
    } finally {
      globalThis.removeEventListener("error", onError);
    }
    assert.deepEqual(order, ["a", "c"]);
    assert.equal(reported.length, 1);
    assert.equal((reported[0] as Error).message, "boom");
  });

  it("never tells a watch added after the abort, like addEventListener", () => {
    const ac = new AbortController();
    ac.abort();
    let told = 0;
    watchAbort(ac.signal, () => told++);
    ac.abort();
    assert.equal(told, 0);
  });

  it("raceAbort watches instead of listening: rejects with the reason, leaves no listener", async () => {
    const { ac, added } = countedSignal();
    const pending = Array.from(
      { length: 50 },
      () => raceAbort(new Promise<never>(() => {}), ac.signal),
    );
    const settled = await raceAbort(Promise.resolve(7), ac.signal);
    assert.equal(settled, 7);
    assert.equal(added(), 1, "50 races, one listener");
    const reason = new Error("shutdown");
    ac.abort(reason);
    for (const p of pending) await assert.rejects(p, (e) => e === reason);
  });
});
