/**
 * Subscriptions to the run log on a real Deno KV: replay then live tail, the end on the terminal
 * event, abort/return/close, the replay→live race, and appends from another handle (kv.watch)
 * and from another `deno` process (head poll).
 */
import assert from "node:assert/strict";
import type { RunSummary, StoredEvent } from "../../lib/events.ts";
import { KvRunStore, openKvRunStore, RunNotFoundError } from "../../lib/runs/mod.ts";
import { runSummary } from "../fixtures/runs.ts";

const summary = (id: string): RunSummary => runSummary(id);

function ev(type: string, i: number) {
  return { type, data: JSON.stringify({ workflowId: "r", ts: "t", step: `s${i}` }) };
}

/** Events `from..to` (inclusive), the last one terminal when `to` is the run's end. */
function events(from: number, to: number, end?: number) {
  const out = [];
  for (let i = from; i <= to; i++) {
    out.push(ev(i === end ? "workflow_complete" : "step_started", i));
  }
  return out;
}

/** Every event a subscription yields, its batches flattened (each batch checked non-empty). */
async function collect(it: AsyncIterable<StoredEvent[]>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const batch of it) {
    assert.ok(batch.length > 0, "a subscription never yields an empty batch");
    out.push(...batch);
  }
  return out;
}

/** The seqs of the next batch (undefined once the subscription ended). */
async function nextSeqs(it: AsyncIterator<StoredEvent[]>): Promise<number[] | undefined> {
  return (await it.next()).value?.map((e: StoredEvent) => e.seq);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/**
 * An abort signal that fires after `ms` so a broken tail fails its test (missing events) instead
 * of hanging it; not a timing assertion.
 */
function deadline(ms = 20_000): { signal: AbortSignal; clear: () => void } {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  return { signal: ac.signal, clear: () => clearTimeout(timer) };
}

async function memStore() {
  return await openKvRunStore({ path: ":memory:", ttlHours: 1 });
}

async function tempPath(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "runs_sub_" });
  return { path: `${dir}/runs.kv`, cleanup: () => Deno.remove(dir, { recursive: true }) };
}

/** A real KV that counts the calls of some methods. */
function countingKv(kv: Deno.Kv) {
  const calls: Record<string, number> = { list: 0, get: 0, getMany: 0, watch: 0, atomic: 0 };
  const wrapped = new Proxy(kv, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (typeof prop === "string" && prop in calls) calls[prop]++;
        return v.apply(target, args);
      };
    },
  });
  return { kv: wrapped, calls };
}

Deno.test("subscribe replays after a seq, tails live appends, ends after the terminal event", async () => {
  const store = await memStore();
  try {
    await store.create(summary("r"));
    await store.append("r", events(1, 3));
    const it = store.subscribe("r", 1);
    // The replay comes as one batch, each live append as another.
    assert.deepEqual(await nextSeqs(it), [2, 3]);
    const pending = nextSeqs(it);
    await store.append("r", events(4, 4));
    assert.deepEqual(await pending, [4]);
    await store.append("r", events(5, 6, 6));
    const rest = await collect(it);
    assert.deepEqual(rest.map((e) => [e.seq, e.type]), [[5, "step_started"], [
      6,
      "workflow_complete",
    ]]);
    assert.deepEqual(await it.next(), { done: true, value: undefined });
    assert.equal(store.subscriberCount, 0);
  } finally {
    await store.close();
  }
});

Deno.test("subscribing to an ended run replays to the end, or ends at once after it", async () => {
  const store = await memStore();
  try {
    await store.create(summary("r"));
    await store.append("r", events(1, 5, 5));
    assert.deepEqual((await collect(store.subscribe("r", 0))).map((e) => e.seq), range(1, 5));
    assert.deepEqual((await collect(store.subscribe("r", 3))).map((e) => e.seq), [4, 5]);
    assert.deepEqual(await collect(store.subscribe("r", 5)), []);
  } finally {
    await store.close();
  }
});

Deno.test("subscribe to an unknown run rejects with RunNotFoundError", async () => {
  const store = await memStore();
  try {
    await assert.rejects(store.subscribe("nope", 0).next(), RunNotFoundError);
    assert.equal(store.subscriberCount, 0);
  } finally {
    await store.close();
  }
});

Deno.test("replay pages through long logs", async () => {
  const store = await memStore();
  try {
    await store.create(summary("r"));
    await store.append("r", events(1, 600));
    await store.append("r", events(601, 700, 700));
    const got = await collect(store.subscribe("r", 7));
    assert.deepEqual(got.map((e) => e.seq), range(8, 700));
  } finally {
    await store.close();
  }
});

Deno.test("an abort signal ends a waiting subscription; an aborted one never starts", async () => {
  const store = await memStore();
  try {
    await store.create(summary("r"));
    await store.append("r", events(1, 1));
    const ac = new AbortController();
    const it = store.subscribe("r", 0, ac.signal);
    assert.deepEqual(await nextSeqs(it), [1]);
    const waiting = it.next();
    assert.equal(store.subscriberCount, 1);
    ac.abort();
    assert.deepEqual(await waiting, { done: true, value: undefined });
    assert.equal(store.subscriberCount, 0);

    const gone = store.subscribe("r", 0, AbortSignal.abort());
    assert.deepEqual(await gone.next(), { done: true, value: undefined });
  } finally {
    await store.close();
  }
});

Deno.test("return() ends a subscription even while next() waits; close() ends the rest", async () => {
  const store = await memStore();
  await store.create(summary("r"));
  const a = store.subscribe("r", 0);
  const b = store.subscribe("r", 0);
  const aWaiting = a.next();
  const bWaiting = b.next();
  assert.deepEqual(await a.return!(), { done: true, value: undefined });
  assert.deepEqual(await aWaiting, { done: true, value: undefined });
  await store.close();
  assert.deepEqual(await bWaiting, { done: true, value: undefined });
  assert.deepEqual(await store.subscribe("r", 0).next(), { done: true, value: undefined });
});

Deno.test("same-process appends reach caught-up subscribers without any KV read", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, calls } = countingKv(raw);
  const store = new KvRunStore(kv, { ttlHours: 1, watch: false });
  try {
    await store.create(summary("r"));
    const it = store.subscribe("r", 0);
    const first = nextSeqs(it);
    await store.append("r", events(1, 2));
    // A local append reaches a caught-up subscriber as the whole batch it was.
    assert.deepEqual(await first, [1, 2]);
    const reads = calls.list + calls.get + calls.getMany;
    for (let i = 3; i <= 20; i++) {
      const next = nextSeqs(it);
      await store.append("r", events(i, i, 20));
      assert.deepEqual(await next, [i]);
    }
    // Neither the writer (cached head) nor the subscriber (fed by the append) read KV.
    assert.equal(calls.list + calls.get + calls.getMany, reads);
    assert.equal(calls.atomic, 1 + 1 + 18, "one atomic write per create and per append");
    assert.deepEqual(await it.next(), { done: true, value: undefined });
  } finally {
    await store.close();
    raw.close();
  }
});

Deno.test("many subscribers of one run share one kv.watch and all get every event", async () => {
  const { path, cleanup } = await tempPath();
  const raw = await Deno.openKv(path);
  const { kv, calls } = countingKv(raw);
  const store = new KvRunStore(kv, { ttlHours: 1, watch: true, pollMs: 0 });
  try {
    await store.create(summary("r"));
    await store.create(summary("s"));
    const subs = Array.from({ length: 300 }, () => collect(store.subscribe("r", 0)));
    const other = collect(store.subscribe("s", 0));
    assert.equal(store.subscriberCount, 301);
    assert.equal(calls.watch, 2);
    await store.append("r", events(1, 3));
    await store.append("r", events(4, 5, 5));
    await store.append("s", events(1, 1, 1));
    for (const got of await Promise.all(subs)) assert.deepEqual(got.map((e) => e.seq), range(1, 5));
    assert.deepEqual((await other).map((e) => e.seq), [1]);
    assert.equal(store.subscriberCount, 0);
  } finally {
    await store.close();
    raw.close();
    await cleanup();
  }
});

/**
 * Appends `n` events in random batches while subscribers join at random moments (some while an
 * append is in flight) and from random seqs; each must see exactly after+1..n.
 */
async function raceRound(
  writer: KvRunStore,
  reader: KvRunStore,
  id: string,
  n: number,
  signal?: AbortSignal,
) {
  await writer.create(summary(id));
  const rand = (k: number) => Math.floor(Math.random() * k);
  const subs: Array<{ after: number; got: Promise<StoredEvent[]> }> = [];
  const join = (after: number) =>
    subs.push({ after, got: collect(reader.subscribe(id, after, signal)) });
  join(0);
  let seq = 0;
  while (seq < n) {
    const size = Math.min(n - seq, 1 + rand(4));
    const appending = writer.append(id, events(seq + 1, seq + size, n));
    if (rand(2) === 0) join(rand(seq + 1));
    for (let y = rand(3); y > 0; y--) await Promise.resolve();
    if (rand(3) === 0) join(seq);
    await appending;
    seq += size;
    if (rand(4) === 0) join(rand(seq + 1));
  }
  join(rand(n + 1));
  for (const s of subs) {
    const got = await s.got;
    assert.deepEqual(got.map((e) => e.seq), range(s.after + 1, n), `after ${s.after}`);
    if (got.length > 0) assert.equal(got[got.length - 1].type, "workflow_complete");
  }
  return subs.length;
}

Deno.test("replay→live race, same process: never a lost or repeated event", async () => {
  const store = await memStore();
  try {
    let subscriptions = 0;
    for (let round = 0; round < 40; round++) {
      subscriptions += await raceRound(store, store, `race-${round}`, 30 + round);
    }
    assert.ok(subscriptions > 100);
  } finally {
    await store.close();
  }
});

Deno.test("replay→live race, writer on another KV handle (kv.watch only): exact sequences", async () => {
  const { path, cleanup } = await tempPath();
  const writer = await openKvRunStore({ path, ttlHours: 1, watch: false, pollMs: 0 });
  const reader = await openKvRunStore({ path, ttlHours: 1, watch: true, pollMs: 0 });
  const limit = deadline();
  try {
    for (let round = 0; round < 12; round++) {
      await raceRound(writer, reader, `xrace-${round}`, 25, limit.signal);
    }
  } finally {
    limit.clear();
    await reader.close();
    await writer.close();
    await cleanup();
  }
});

Deno.test("cross-handle tail: another handle's appends arrive through kv.watch", async () => {
  const { path, cleanup } = await tempPath();
  const a = await openKvRunStore({ path, ttlHours: 1, watch: true, pollMs: 0 });
  const b = await openKvRunStore({ path, ttlHours: 1, watch: false, pollMs: 0 });
  const limit = deadline();
  try {
    await a.create(summary("r"));
    await a.append("r", events(1, 2).concat([ev("approval_required", 3)]));
    const it = a.subscribe("r", 0, limit.signal);
    const got: number[] = [];
    while (got.length < 3) got.push(...(await nextSeqs(it))!);
    // The approval is handled by "another process": its continuation must reach a's viewer.
    const waiting = nextSeqs(it);
    await b.append("r", [ev("approval_resolved", 4)]);
    got.push(...((await waiting) ?? [-1]));
    await b.append("r", events(5, 8, 8));
    for (const e of await collect(it)) got.push(e.seq);
    assert.deepEqual(got, range(1, 8));
  } finally {
    limit.clear();
    await a.close();
    await b.close();
    await cleanup();
  }
});

Deno.test("cross-process tail: a second deno process appends, this one's subscriber follows", async () => {
  const { path, cleanup } = await tempPath();
  // The parent follows with its head poll (Deno's SQLite KV does not notify watches across
  // processes); a short interval keeps the test fast.
  const store = await openKvRunStore({ path, ttlHours: 1, pollMs: 20 });
  const limit = deadline();
  try {
    await store.create(summary("r"));
    await store.append("r", [ev("approval_required", 1)]);
    const got = collect(store.subscribe("r", 0, limit.signal));
    const storeUrl = new URL("../../lib/runs/kv_store.ts", import.meta.url).href;
    const code = `
      import { openKvRunStore } from ${JSON.stringify(storeUrl)};
      const store = await openKvRunStore({ path: ${JSON.stringify(path)}, ttlHours: 1 });
      let seq = 1;
      while (seq < 200) {
        const batch = [];
        for (let k = 0; k < 7 && seq < 200; k++) {
          seq++;
          const type = seq === 200 ? "workflow_complete" : "step_started";
          batch.push({ type, data: JSON.stringify({ workflowId: "r", ts: "t", n: seq }) });
        }
        const stored = await store.append("r", batch);
        if (stored[stored.length - 1].seq !== seq) throw new Error("seq mismatch");
      }
      await store.close();
    `;
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", "--unstable-kv", "--ext=ts", code],
      cwd: new URL("../..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
    const seen = await got;
    assert.deepEqual(seen.map((e) => e.seq), range(1, 200));
    assert.equal(JSON.parse(seen[150].data).n, 151);
    assert.equal((await store.get("r"))?.eventCount, 200);
  } finally {
    limit.clear();
    await store.close();
    await cleanup();
  }
});
