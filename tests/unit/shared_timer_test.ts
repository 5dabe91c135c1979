import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SseResponseStream } from "../../lib/sse/heartbeat.ts";
import { SharedTimer, TimerEntry } from "../../lib/sse/shared_timer.ts";
import { ManualScheduler } from "../fixtures/manual_scheduler.ts";

/** A deterministic pseudo-random sequence (the test must not depend on luck). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x7fffffff;
  };
}

describe("SharedTimer", () => {
  it("fires every entry exactly when due, on one scheduler timer", () => {
    const sched = new ManualScheduler();
    const timer = new SharedTimer(sched);
    const fired: [number, number][] = [];
    const entries = Array.from(
      { length: 200 },
      (_, i) => new TimerEntry((n: number) => fired.push([n, sched.now()]), i),
    );
    const rand = rng(7);
    const due = new Map<number, number>();
    for (const e of entries) {
      const ms = Math.floor(rand() * 1000);
      timer.schedule(e, ms);
      due.set(e.arg, ms);
    }
    assert.equal(timer.size, 200);
    assert.equal(sched.timers.size, 1);
    sched.advance(1000);
    assert.equal(fired.length, 200);
    for (const [n, at] of fired) assert.equal(at, due.get(n), `entry ${n} fired at its due time`);
    const times = fired.map(([, at]) => at);
    assert.deepEqual(times, [...times].sort((a, b) => a - b), "in due order");
    assert.equal(sched.peak, 1, "never more than one runtime timer");
    assert.equal(sched.timers.size, 0, "no timer left once nothing waits");
    assert.equal(timer.size, 0);
  });

  it("keeps an early timer when the earliest entry is cancelled: no runtime timer per cancel", () => {
    const sched = new ManualScheduler();
    let sets = 0;
    const setTimer = sched.setTimer.bind(sched);
    sched.setTimer = (callback, ms, arg) => {
      sets++;
      return setTimer(callback, ms, arg);
    };
    const timer = new SharedTimer(sched);
    const fired: [number, number][] = [];
    const entries = Array.from(
      { length: 100 },
      (_, i) => new TimerEntry((n: number) => fired.push([n, sched.now()]), i),
    );
    // Deadlines that end in the order they began (body reads, upstream answers).
    entries.forEach((e, i) => timer.schedule(e, 1000 + i));
    for (const e of entries.slice(0, 99)) timer.cancel(e);
    assert.equal(sets, 1, "one runtime timer for 100 entries and 99 cancels");
    sched.advance(2000);
    assert.deepEqual(fired, [[99, 1099]], "the last one still fires exactly when due");
    assert.equal(sched.timers.size, 0, "no timer left once nothing waits");
    timer.schedule(entries[0], 10);
    timer.cancel(entries[0]);
    assert.equal(sched.timers.size, 0, "cancelling the only entry clears the timer");
  });

  it("cancels and moves entries anywhere in the heap (checked against a model)", () => {
    const sched = new ManualScheduler();
    const timer = new SharedTimer(sched);
    const fired: number[] = [];
    const entries = Array.from(
      { length: 300 },
      (_, i) => new TimerEntry((n: number) => fired.push(n), i),
    );
    const model = new Map<number, number>();
    const rand = rng(42);
    for (let step = 0; step < 3000; step++) {
      const e = entries[Math.floor(rand() * entries.length)];
      const r = rand();
      if (r < 0.5) {
        const ms = Math.floor(rand() * 500);
        timer.schedule(e, ms);
        model.set(e.arg, sched.now() + ms);
      } else if (r < 0.8) {
        timer.cancel(e);
        model.delete(e.arg);
      } else {
        fired.length = 0;
        sched.advance(Math.floor(rand() * 50));
        const expected = [...model].filter(([, at]) => at <= sched.now()).map(([n]) => n);
        assert.deepEqual([...fired].sort((a, b) => a - b), expected.sort((a, b) => a - b));
        for (const n of expected) model.delete(n);
      }
      assert.equal(timer.size, model.size);
      for (const entry of entries) assert.equal(entry.scheduled, model.has(entry.arg));
      assert.ok(sched.timers.size <= 1);
    }
  });

  it("lets an entry schedule itself again while firing", () => {
    const sched = new ManualScheduler();
    const timer = new SharedTimer(sched);
    const at: number[] = [];
    const entry: TimerEntry<null> = new TimerEntry(() => {
      at.push(sched.now());
      if (at.length < 5) timer.schedule(entry, 100);
    }, null);
    timer.schedule(entry, 100);
    sched.advance(1000);
    assert.deepEqual(at, [100, 200, 300, 400, 500]);
    assert.equal(sched.timers.size, 0);
  });

  it("serves the heartbeats of many streams with one timer, and none once they close", async () => {
    const sched = new ManualScheduler();
    const streams = Array.from(
      { length: 50 },
      (_, i) => new SseResponseStream({ scheduler: sched, intervalMs: 1000 + 10 * i }),
    );
    assert.equal(sched.timers.size, 1);
    sched.advance(1500);
    streams.forEach((s, i) => assert.equal(s.heartbeats, 1, `stream ${i}`));
    streams[0].write("data: x\n\n");
    sched.advance(999);
    assert.equal(streams[0].heartbeats, 1, "a write puts the next heartbeat back");
    sched.advance(1);
    assert.equal(streams[0].heartbeats, 2);
    assert.equal(sched.peak, 1);
    for (const s of streams) s.close();
    assert.equal(sched.timers.size, 0, "closed streams leave no timer behind");
    for (const s of streams) await s.readable.cancel();
  });
});
