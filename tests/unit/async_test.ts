/** The shared async helpers: deadlines, sleeps and abort races end cleanly however they end. */
import assert from "node:assert/strict";
import { raceAbort, raceTimeout, settledWithin, sleep } from "../../lib/async.ts";

Deno.test("raceTimeout: the promise's outcome when first, the fallback when the time is up", async () => {
  assert.equal(await raceTimeout(Promise.resolve(1), 1_000, () => 2), 1);
  await assert.rejects(raceTimeout(Promise.reject(new Error("no")), 1_000, () => 2), /no/);
  assert.equal(await raceTimeout(new Promise<number>(() => {}), 1, () => 2), 2);
  await assert.rejects(
    raceTimeout(new Promise(() => {}), 1, () => {
      throw new Error("late");
    }),
    /late/,
  );
});

Deno.test("settledWithin: true for a settled promise (either way), false for a pending one", async () => {
  assert.equal(await settledWithin(Promise.resolve(), 1_000), true);
  assert.equal(await settledWithin(Promise.reject(new Error("x")), 1_000), true);
  assert.equal(await settledWithin(new Promise(() => {}), 1), false);
});

Deno.test("sleep: resolves, or rejects at once with the signal's reason", async () => {
  await sleep(1);
  const ac = new AbortController();
  const slept = sleep(60_000, ac.signal);
  ac.abort(new Error("stop"));
  await assert.rejects(slept, /stop/);
  await assert.rejects(sleep(1, AbortSignal.abort(new Error("gone"))), /gone/);
});

Deno.test("raceAbort: rejects on abort and hands a late value to onLate", async () => {
  assert.equal(await raceAbort(Promise.resolve(1), new AbortController().signal), 1);
  const ac = new AbortController();
  let resolve!: (v: number) => void;
  const late: number[] = [];
  const raced = raceAbort(new Promise<number>((r) => resolve = r), ac.signal, (v) => late.push(v));
  ac.abort(new Error("abandoned"));
  await assert.rejects(raced, /abandoned/);
  resolve(7);
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(late, [7]);
});
