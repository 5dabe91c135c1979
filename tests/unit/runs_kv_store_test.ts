/**
 * The run log on a real Deno KV (`:memory:`, or a temp file opened twice to act as two
 * processes): create, append, read, update, list, big events, TTL and close.
 */
import assert from "node:assert/strict";
import type { RunSummary } from "../../lib/events.ts";
import {
  DEFAULT_KV_PATH,
  EventTooLargeError,
  InvalidCursorError,
  KvRunStore,
  MAX_EVENT_BYTES,
  openKvRunStore,
  RunClosedError,
  RunNotFoundError,
} from "../../lib/runs/mod.ts";
import {
  type EncodedPage,
  keys,
  MAX_VALUE_BYTES,
  PAGE_BYTES,
  planWrites,
} from "../../lib/runs/kv_codec.ts";

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

function summary(id: string, over: Partial<RunSummary> = {}): RunSummary {
  return {
    id,
    graph: "hotel_o2c",
    dialect: "workflow",
    status: "running",
    createdAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    eventCount: 0,
    ...over,
  };
}

function ev(type: string, i: number) {
  return { type, data: JSON.stringify({ workflowId: "r", ts: "t", step: `s${i}` }) };
}

function clock(start = T0) {
  const c = { t: start, now: () => c.t };
  return c;
}

async function memStore(now?: () => number) {
  const kv = await Deno.openKv(":memory:");
  const store = new KvRunStore(kv, { ttlHours: 24, now, ownsKv: true, watch: false });
  return { kv, store };
}

async function tempPath(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "runs_kv_" });
  return { path: `${dir}/runs.kv`, cleanup: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("one process's writes to one run take turns in call order, without conflicts", async () => {
  const { store } = await memStore();
  try {
    assert.equal(await store.create(summary("r")), true);
    // Appends and summary updates fired together: each waits for the one before it, so none
    // loses a version check (which would retry with a random backoff and could reorder them).
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      writes.push(store.append("r", [ev(`e${i}`, i)]));
      if (i % 10 === 9) writes.push(store.update("r", { error: { code: "c", message: `m${i}` } }));
    }
    const results = await Promise.all(writes);
    const appended = results.filter(Array.isArray).map((r) => r[0].seq);
    assert.deepEqual(appended, Array.from({ length: 30 }, (_, i) => i + 1));
    assert.deepEqual(
      (await store.read("r", 0)).map((e) => e.type),
      Array.from({ length: 30 }, (_, i) => `e${i}`),
    );
    assert.equal((await store.get("r"))?.error?.message, "m29");
    assert.equal(store.commitStats.splits, 0);
  } finally {
    await store.close();
  }
});

Deno.test("create is idempotent: of concurrent creates of one id exactly one wins", async () => {
  const { store } = await memStore();
  try {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.create(summary("r1"))),
    );
    assert.equal(results.filter(Boolean).length, 1);
    const got = await store.get("r1");
    assert.equal(got?.id, "r1");
    assert.equal(got?.eventCount, 0);
    assert.equal(await store.get("nope"), null);
  } finally {
    await store.close();
  }
});

Deno.test("create races across two handles of one KV file (two processes) → one winner", async () => {
  const { path, cleanup } = await tempPath();
  const a = await openKvRunStore({ path, ttlHours: 1, pollMs: 0, watch: false });
  const b = await openKvRunStore({ path, ttlHours: 1, pollMs: 0, watch: false });
  try {
    for (let round = 0; round < 5; round++) {
      const id = `race-${round}`;
      const results = await Promise.all([
        a.create(summary(id)),
        b.create(summary(id)),
        a.create(summary(id)),
        b.create(summary(id)),
      ]);
      assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results}`);
    }
  } finally {
    await a.close();
    await b.close();
    await cleanup();
  }
});

Deno.test("append assigns consecutive seqs and writes counts, updatedAt and the patch", async () => {
  const c = clock();
  const { store } = await memStore(c.now);
  try {
    await store.create(summary("r", { prompt: "book a room", pendingApproval: undefined }));
    c.t = T0 + 1000;
    const first = await store.append("r", [ev("workflow_initialized", 0), ev("step_started", 1)]);
    assert.deepEqual(first.map((e) => e.seq), [1, 2]);
    assert.equal(first[1].data, ev("step_started", 1).data);

    c.t = T0 + 2000;
    const since = new Date(T0).toISOString();
    const second = await store.append("r", [ev("approval_required", 2)], {
      status: "waiting_approval",
      pendingApproval: { stepId: "s", message: "ok?", since },
      // The log owns these two: ignored.
      id: "other",
      eventCount: 99,
    });
    assert.deepEqual(second.map((e) => e.seq), [3]);
    let s = await store.get("r");
    assert.equal(s?.id, "r");
    assert.equal(s?.eventCount, 3);
    assert.equal(s?.status, "waiting_approval");
    assert.equal(s?.updatedAt, new Date(T0 + 2000).toISOString());
    assert.equal(s?.prompt, "book a room");
    assert.deepEqual(s?.pendingApproval, { stepId: "s", message: "ok?", since });

    // A key present with `undefined` removes the field.
    await store.append("r", [ev("approval_resolved", 3)], {
      status: "running",
      pendingApproval: undefined,
    });
    s = await store.get("r");
    assert.equal(s?.eventCount, 4);
    assert.equal("pendingApproval" in (s ?? {}), false);
    assert.deepEqual(
      (await store.read("r", 0)).map((e) => [e.seq, e.type]),
      [
        [1, "workflow_initialized"],
        [2, "step_started"],
        [3, "approval_required"],
        [4, "approval_resolved"],
      ],
    );
  } finally {
    await store.close();
  }
});

Deno.test("read returns events after a seq, ascending, limited", async () => {
  const { store } = await memStore();
  try {
    await store.create(summary("r"));
    await store.append("r", Array.from({ length: 20 }, (_, i) => ev("step_started", i)));
    assert.deepEqual((await store.read("r", 15)).map((e) => e.seq), [16, 17, 18, 19, 20]);
    assert.deepEqual((await store.read("r", 3, 4)).map((e) => e.seq), [4, 5, 6, 7]);
    assert.deepEqual(await store.read("r", 20), []);
    assert.deepEqual(await store.read("unknown", 0), []);
    assert.equal((await store.read("r", -5)).length, 20);
  } finally {
    await store.close();
  }
});

Deno.test("update changes only the summary, atomically, and is allowed after the end", async () => {
  const { store } = await memStore();
  try {
    await store.create(summary("r"));
    await store.append("r", [ev("workflow_complete", 0)], { status: "complete" });
    const updated = await store.update("r", { relay: { owner: "me", leaseUntil: 0 } });
    assert.deepEqual(updated.relay, { owner: "me", leaseUntil: 0 });
    assert.equal(updated.status, "complete");
    assert.equal(updated.eventCount, 1);
    assert.deepEqual((await store.get("r"))?.relay, { owner: "me", leaseUntil: 0 });
    await assert.rejects(store.update("nope", { status: "error" }), RunNotFoundError);
  } finally {
    await store.close();
  }
});

Deno.test("append refuses unknown runs, appends after the terminal event, events after it", async () => {
  const { store } = await memStore();
  try {
    await assert.rejects(store.append("nope", [ev("step_started", 0)]), RunNotFoundError);
    await store.create(summary("r"));
    await assert.rejects(
      store.append("r", [ev("workflow_aborted", 0), ev("step_started", 1)]),
      RunClosedError,
    );
    assert.deepEqual(await store.read("r", 0), []);
    await store.append("r", [ev("step_started", 0), ev("workflow_aborted", 1)]);
    const err = await store.append("r", [ev("workflow_complete", 2)]).catch((e) => e);
    assert.ok(err instanceof RunClosedError);
    assert.equal(err.name, "RunClosedError");
    assert.equal((await store.get("r"))?.eventCount, 2);
  } finally {
    await store.close();
  }
});

Deno.test("a writer's cached head survives another process appending and updating", async () => {
  const { path, cleanup } = await tempPath();
  const a = await openKvRunStore({ path, ttlHours: 1, pollMs: 0, watch: false });
  const b = await openKvRunStore({ path, ttlHours: 1, pollMs: 0, watch: false });
  try {
    await a.create(summary("r"));
    await a.append("r", [ev("step_started", 0), ev("approval_required", 1)]);
    // The approval is handled by the other process, which becomes the writer.
    await b.update("r", { status: "running", prompt: "changed by b" });
    const fromB = await b.append("r", [ev("approval_resolved", 2), ev("step_started", 3)]);
    assert.deepEqual(fromB.map((e) => e.seq), [3, 4]);
    // A's cache is stale: the version check fails, it re-reads and continues the sequence
    // without clobbering B's summary change.
    const fromA = await a.append("r", [ev("step_completed", 4)]);
    assert.deepEqual(fromA.map((e) => e.seq), [5]);
    const s = await a.get("r");
    assert.equal(s?.eventCount, 5);
    assert.equal(s?.prompt, "changed by b");
    assert.deepEqual((await b.read("r", 0)).map((e) => e.seq), [1, 2, 3, 4, 5]);

    // Concurrent appends from both: every event stored once, seqs 1..N without holes.
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      writes.push((i % 2 ? a : b).append("r", [ev("step_started", i), ev("step_completed", i)]));
    }
    await Promise.all(writes);
    const all = await a.read("r", 0);
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: 45 }, (_, i) => i + 1));
    assert.equal((await b.get("r"))?.eventCount, 45);
  } finally {
    await a.close();
    await b.close();
    await cleanup();
  }
});

Deno.test("a subscriber of a run this process writes reads its events from the writer's head", async () => {
  const { path, cleanup } = await tempPath();
  const a = await openKvRunStore({ path, ttlHours: 1, pollMs: 0, watch: false });
  // A second handle of the same file: the process that writes the run.
  const kvB = await Deno.openKv(path);
  let headReads = 0;
  const get = kvB.get.bind(kvB);
  kvB.get = ((key: Deno.KvKey, opts?: { consistency?: Deno.KvConsistencyLevel }) => {
    if (key[0] === keys.head("x")[0]) headReads++;
    return get(key, opts);
  }) as typeof kvB.get;
  const b = new KvRunStore(kvB, { ttlHours: 1, ownsKv: true, watch: false, pollMs: 0 });
  const firstBatch = async (store: KvRunStore, after = 0) => {
    const it = store.subscribe("r", after)[Symbol.asyncIterator]();
    const first = await it.next();
    await it.return?.();
    return first.done ? [] : first.value.map((e) => e.seq);
  };
  try {
    assert.equal(await b.create(summary("r")), true);
    await b.append("r", [ev("step_started", 1), ev("step_finished", 2)]);
    assert.deepEqual(await firstBatch(b), [1, 2]);
    assert.equal(headReads, 1, "the head is read once (fresh), the events come from the writer's");
    assert.deepEqual(await firstBatch(a), [1, 2], "another process reads them from the log");
    // Another process appends (a decision taken there): the writer's cached head is older than
    // the head just read, so the log is read.
    await a.append("r", [ev("step_started", 3)]);
    assert.deepEqual(await firstBatch(b), [1, 2, 3]);
    assert.deepEqual(await firstBatch(b, 2), [3]);
    assert.equal(headReads, 5, "each of those read the head twice");
  } finally {
    await a.close();
    await b.close();
    await cleanup();
  }
});

Deno.test("a 200 KiB event is split into parts under 64 KiB and reassembled exactly", async () => {
  const { kv, store } = await memStore();
  try {
    await store.create(summary("big"));
    // Multi-byte characters make parts end in the middle of a character.
    const text = "Zimmer 12 – €420 – 🛏️ ".repeat(Math.ceil(200 * 1024 / 24));
    const data = JSON.stringify({ workflowId: "big", ts: "t", name: "invoice", content: text });
    assert.ok(new TextEncoder().encode(data).length > 200 * 1024);
    const stored = await store.append("big", [
      ev("step_started", 0),
      { type: "artifact", data },
      ev("step_completed", 1),
    ]);
    assert.deepEqual(stored.map((e) => e.seq), [1, 2, 3]);

    const parts: Uint8Array[] = [];
    for await (const e of kv.list<Uint8Array>({ prefix: keys.blobs("big") })) {
      parts.push(e.value);
    }
    assert.ok(parts.length >= 4, `${parts.length} parts`);
    for (const p of parts) assert.ok(p.length <= MAX_VALUE_BYTES);

    const back = await store.read("big", 0);
    assert.equal(back.length, 3);
    assert.equal(back[1].type, "artifact");
    assert.equal(back[1].data, data);
    assert.equal(back[2].type, "step_completed");
  } finally {
    await store.close();
  }
});

Deno.test("an event over MAX_EVENT_BYTES is refused loudly; nothing of its batch is written", async () => {
  const { store } = await memStore();
  try {
    await store.create(summary("r"));
    await store.append("r", [ev("step_started", 0)]);
    const data = JSON.stringify({ content: "x".repeat(MAX_EVENT_BYTES + 1) });
    const err = await store.append("r", [ev("step_completed", 1), { type: "artifact", data }])
      .catch((e) => e);
    assert.ok(err instanceof EventTooLargeError, String(err));
    assert.equal(err.name, "EventTooLargeError");
    assert.equal(err.type, "artifact");
    assert.ok(err.bytes > err.limit);
    assert.match(err.message, /artifact.*bytes/);
    assert.deepEqual((await store.read("r", 0)).map((e) => e.seq), [1]);
    assert.equal((await store.get("r"))?.eventCount, 1);
    // The run still accepts events.
    assert.deepEqual((await store.append("r", [ev("step_completed", 2)])).map((e) => e.seq), [2]);
  } finally {
    await store.close();
  }
});

Deno.test("a batch bigger than one atomic write is split into consecutive writes", async () => {
  const { store } = await memStore();
  try {
    await store.create(summary("r"));
    const big = JSON.stringify({ content: "y".repeat(300 * 1024) });
    const batch = [
      { type: "artifact", data: big },
      { type: "artifact", data: big },
      { type: "artifact", data: big },
      ...Array.from({ length: 1500 }, (_, i) => ev("step_started", i)),
    ];
    // The plan needs several writes: by bytes (3 × 300 KiB) and by mutations (1,500 events).
    const stored = await store.append("r", batch, { status: "complete" });
    assert.equal(stored.length, batch.length);
    assert.deepEqual(stored.map((e) => e.seq), batch.map((_, i) => i + 1));
    const back = await store.read("r", 0);
    assert.equal(back.length, batch.length);
    assert.equal(back[2].data, big);
    assert.equal(back[1502].data, batch[1502].data);
    const s = await store.get("r");
    assert.equal(s?.eventCount, batch.length);
    assert.equal(s?.status, "complete");
  } finally {
    await store.close();
  }
});

Deno.test("planWrites respects the mutation and byte budgets", () => {
  const page = (bytes: number): EncodedPage => ({
    events: [],
    value: new Uint8Array(0),
    parts: [],
    bytes,
    keyBytes: 40,
  });
  // By mutations: 2,500 tiny pages; by bytes: 40 pages of 60 KB.
  for (
    const pages of [
      Array.from({ length: 2500 }, () => page(200)),
      Array.from({ length: 40 }, () => page(61_000)),
    ]
  ) {
    const plan = planWrites(pages);
    assert.ok(plan.length >= 3);
    let next = 0;
    for (const [start, end] of plan) {
      assert.equal(start, next);
      assert.ok(end - start <= 1000);
      const bytes = pages.slice(start, end).reduce((s, p) => s + p.bytes, 0);
      assert.ok(bytes <= 800 * 1024, `${bytes} bytes in one write`);
      next = end;
    }
    assert.equal(next, pages.length);
  }
});

/** The raw page rows of a run. */
async function pageRows(kv: Deno.Kv, id: string) {
  const rows: { lastSeq: number; bytes: number }[] = [];
  for await (const e of kv.list<unknown>({ prefix: keys.pages(id) })) {
    const v = e.value;
    rows.push({ lastSeq: e.key[2] as number, bytes: v instanceof Uint8Array ? v.length : -1 });
  }
  return rows;
}

Deno.test("consecutive events share pages under 64 KiB; a read can start inside a page", async () => {
  const { kv, store } = await memStore();
  try {
    await store.create(summary("p"));
    const batch = Array.from({ length: 3000 }, (_, i) => ev("step_started", i));
    await store.append("p", batch);
    const rows = await pageRows(kv, "p");
    // ~3000 × 80 bytes: a handful of pages, not 3000 rows.
    assert.ok(rows.length >= 2 && rows.length <= 10, `${rows.length} pages`);
    for (const r of rows) assert.ok(r.bytes > 0 && r.bytes <= PAGE_BYTES + 256);
    assert.equal(rows.at(-1)!.lastSeq, 3000);
    // Start just after the first event, in the middle of a page, and at a page's last event.
    for (const after of [0, 1, 1234, rows[0].lastSeq, rows[0].lastSeq - 1, 2999, 3000]) {
      const back = await store.read("p", after);
      assert.equal(back.length, 3000 - after, `after ${after}`);
      if (back.length > 0) {
        assert.equal(back[0].seq, after + 1);
        assert.equal(back[0].data, batch[after].data);
      }
    }
    // A limited read stops inside a page.
    const some = await store.read("p", 10, 5);
    assert.deepEqual(some.map((e) => e.seq), [11, 12, 13, 14, 15]);
  } finally {
    await store.close();
  }
});

Deno.test("pages of mostly multi-byte text still fit a KV value; data with line breaks round-trips", async () => {
  const { kv, store } = await memStore();
  try {
    await store.create(summary("u"));
    const wide = Array.from({ length: 400 }, (_, i) => ({
      type: "artifact",
      data: JSON.stringify({ n: i, text: "€🛏️ü".repeat(80) }),
    }));
    const multi = { type: "note", data: "line one\nline two\r\nline three" };
    await store.append("u", [...wide, multi, ev("step_started", 1)]);
    for (const r of await pageRows(kv, "u")) assert.ok(r.bytes <= MAX_VALUE_BYTES);
    const back = await store.read("u", 0);
    assert.equal(back.length, 402);
    assert.deepEqual(back.slice(0, 400).map((e) => e.data), wide.map((e) => e.data));
    assert.equal(back[400].data, multi.data);
    assert.equal(back[401].type, "step_started");
  } finally {
    await store.close();
  }
});

Deno.test("an event bigger than one atomic write (700 KiB) is stored with its batch, terminal included", async () => {
  const { store } = await memStore();
  try {
    await store.create(summary("huge"));
    const data = JSON.stringify({ name: "scan", content: "z".repeat(700 * 1024) });
    const stored = await store.append("huge", [
      { type: "artifact", data },
      { type: "workflow_complete", data: JSON.stringify({ status: "complete" }) },
    ], { status: "complete" });
    assert.deepEqual(stored.map((e) => e.seq), [1, 2]);
    const back = await store.read("huge", 0);
    assert.equal(back[0].data, data);
    assert.equal(back[1].type, "workflow_complete");
    assert.equal((await store.get("huge"))?.status, "complete");
  } finally {
    await store.close();
  }
});

Deno.test("plain appends leave the summary record alone; get() still reports count and time", async () => {
  const c = clock();
  const { kv, store } = await memStore(c.now);
  try {
    await store.create(summary("s"));
    const before = await kv.get(keys.run("s"));
    c.t += 5_000;
    await store.append("s", [ev("step_started", 0), ev("step_completed", 0)], {
      relay: { owner: "me", leaseUntil: c.t + 10_000 },
    });
    const after = await kv.get(keys.run("s"));
    assert.equal(after.versionstamp, before.versionstamp, "no summary write for plain events");
    const s = await store.get("s");
    assert.equal(s?.eventCount, 2);
    assert.equal(s?.updatedAt, new Date(c.t).toISOString());
    assert.deepEqual(s?.relay, { owner: "me", leaseUntil: c.t + 10_000 });
    // A status change writes it.
    await store.append("s", [ev("approval_required", 1)], { status: "waiting_approval" });
    assert.notEqual((await kv.get(keys.run("s"))).versionstamp, before.versionstamp);
    assert.equal((await store.get("s"))?.status, "waiting_approval");
    assert.equal((await store.list()).runs[0].eventCount, 3);
  } finally {
    await store.close();
  }
});

Deno.test("update with expect is a compare-and-set: of concurrent claims across handles one wins", async () => {
  const { path, cleanup } = await tempPath();
  const a = await openKvRunStore({ path, ttlHours: 24, pollMs: 0 });
  const b = await openKvRunStore({ path, ttlHours: 24, pollMs: 0 });
  try {
    await a.create(summary("c", { status: "waiting_approval" }));
    await b.get("c"); // b has no cached writer state; a has a fresh one
    const claim = (s: KvRunStore) =>
      s.update("c", { status: "running" }, { expect: (r) => r.status === "waiting_approval" })
        .then(() => "won", (e) => e.name);
    const results = await Promise.all([claim(a), claim(b), claim(a), claim(b)]);
    assert.equal(results.filter((r) => r === "won").length, 1, results.join());
    assert.ok(results.every((r) => r === "won" || r === "UnexpectedStateError"), results.join());
    // A stale cache never wins: a's cache says waiting until it re-reads.
    await b.update("c", { status: "waiting_approval" });
    assert.equal(await claim(a), "won");
  } finally {
    await a.close();
    await b.close();
    await cleanup();
  }
});

Deno.test("list: newest first, filtered by status and graph, paginated with cursors", async () => {
  const c = clock();
  const { store } = await memStore(c.now);
  try {
    const specs: Array<[string, RunSummary["status"], string]> = [
      ["a", "complete", "hotel_o2c"],
      ["b", "running", "hotel_o2c"],
      ["c", "error", "travel_booking"],
      ["d", "complete", "travel_booking"],
      ["e", "waiting_approval", "hotel_o2c"],
      ["f", "complete", "hotel_o2c"],
      ["g", "running", "travel_booking"],
    ];
    for (let i = 0; i < specs.length; i++) {
      const [id, status, graph] = specs[i];
      const at = new Date(T0 + i * 60_000).toISOString();
      await store.create(summary(id, { graph, createdAt: at, updatedAt: at }));
      if (status !== "running") await store.update(id, { status });
    }
    const all = await store.list();
    assert.deepEqual(all.runs.map((r) => r.id), ["g", "f", "e", "d", "c", "b", "a"]);
    assert.equal(all.cursor, undefined);

    const complete = await store.list({ status: "complete" });
    assert.deepEqual(complete.runs.map((r) => r.id), ["f", "d", "a"]);
    const travel = await store.list({ graph: "travel_booking" });
    assert.deepEqual(travel.runs.map((r) => r.id), ["g", "d", "c"]);
    const both = await store.list({ graph: "hotel_o2c", status: "complete" });
    assert.deepEqual(both.runs.map((r) => r.id), ["f", "a"]);

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list({ limit: 2, cursor });
      pages.push(page.runs.map((r) => r.id));
      cursor = page.cursor;
    } while (cursor);
    assert.deepEqual(pages, [["g", "f"], ["e", "d"], ["c", "b"], ["a"]]);

    const p1 = await store.list({ status: "complete", limit: 1 });
    const p2 = await store.list({ status: "complete", limit: 1, cursor: p1.cursor });
    const p3 = await store.list({ status: "complete", limit: 1, cursor: p2.cursor });
    assert.deepEqual([p1, p2, p3].map((p) => p.runs.map((r) => r.id)), [["f"], ["d"], ["a"]]);
    assert.equal(p3.cursor, undefined);

    await assert.rejects(store.list({ cursor: "not-a-cursor!" }), InvalidCursorError);
  } finally {
    await store.close();
  }
});

Deno.test("append clock: moves at most once per interval, at once with a run's end or a gate, and the owed move follows", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, sets } = recordingKv(raw);
  const clocks = () => sets.filter((s) => s.key[0] === "log_clock").length;
  // An interval no test run reaches: only a run's end and close() move the clock here.
  const store = new KvRunStore(kv, { ttlHours: 1, watch: false, clockEveryMs: 3_600_000 });
  let closed = false;
  try {
    await store.create(summary("r"));
    assert.equal(clocks(), 1, "the first commit moves the clock");
    await store.append("r", [ev("step_started", 1)]);
    await store.append("r", [ev("step_completed", 2)]);
    assert.equal(clocks(), 1, "commits inside the interval leave it out");
    await store.append("r", [ev("workflow_complete", 3)]);
    assert.equal(clocks(), 2, "a run's last event moves it at once");
    await store.create(summary("s"));
    await store.append("s", [ev("step_started", 1)]);
    assert.equal(clocks(), 2);
    await store.append("s", [ev("approval_required", 2)]);
    assert.equal(clocks(), 3, "a gate moves it at once");
    await store.append("s", [ev("approval_resolved", 3)]);
    assert.equal(clocks(), 3);
    await store.close();
    closed = true;
    assert.equal(clocks(), 4, "close() writes the move still owed");
  } finally {
    if (!closed) await store.close();
    raw.close();
  }

  // With a short interval the owed move is written on its own, with no further commit.
  const raw2 = await Deno.openKv(":memory:");
  const rec = recordingKv(raw2);
  const store2 = new KvRunStore(rec.kv, { ttlHours: 1, watch: false, clockEveryMs: 20 });
  try {
    await store2.create(summary("r"));
    await store2.append("r", [ev("step_started", 1)]);
    const moves = () => rec.sets.filter((s) => s.key[0] === "log_clock").length;
    const before = moves();
    for (let i = 0; i < 500 && moves() === before; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(moves(), before + 1);
    const entry = await raw2.list({ prefix: ["log_clock"] }).next();
    assert.equal(entry.value?.value, moves(), "the stored clock is the last move");
  } finally {
    await store2.close();
    raw2.close();
  }
});

/** A real KV whose atomic `set` calls are recorded, to see the expiry each key is given. */
function recordingKv(kv: Deno.Kv) {
  const sets: Array<{ key: Deno.KvKey; expireIn?: number }> = [];
  const wrapOp = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        if (prop === "set") {
          return (key: Deno.KvKey, value: unknown, options?: { expireIn?: number }) => {
            sets.push({ key, expireIn: options?.expireIn });
            target.set(key, value, options);
            return proxy;
          };
        }
        const v = Reflect.get(target, prop, target);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          const r = v.apply(target, args);
          return r === target ? proxy : r;
        };
      },
    });
    return proxy;
  };
  const wrapped = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") return () => wrapOp(target.atomic());
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { kv: wrapped, sets };
}

Deno.test("TTL: every key expires at the run's deadline; past it the run is gone", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, sets } = recordingKv(raw);
  const c = clock();
  // The clock in every commit here (see the next test for how often it moves by default).
  const store = new KvRunStore(kv, { ttlHours: 2, now: c.now, watch: false, clockEveryMs: 0 });
  try {
    await store.create(summary("r"));
    // A create shares the group committer with appends, so it moves the append clock too.
    const created = sets.filter((s) => s.key[0] !== "log_clock");
    assert.deepEqual(created.map((s) => s.key[0]).sort(), [
      "head",
      "runs",
      "runs_by_time",
      "runs_running_by",
    ]);
    for (const s of sets) assert.equal(s.expireIn, 2 * HOUR, String(s.key));

    sets.length = 0;
    c.t = T0 + HOUR;
    const big = JSON.stringify({ content: "z".repeat(100_000) });
    await store.append("r", [ev("step_started", 0), { type: "artifact", data: big }]);
    // The process's append clock (for other processes' polls) lives a TTL after its last append.
    const clocks = sets.filter((s) => s.key[0] === "log_clock");
    assert.equal(clocks.length, 1);
    assert.equal(clocks[0].expireIn, 2 * HOUR);
    const runKeys = sets.filter((s) => s.key[0] !== "log_clock");
    assert.deepEqual(
      [...new Set(runKeys.map((s) => s.key[0]))].sort(),
      ["ev", "ev_blob", "head"],
    );
    for (const s of runKeys) assert.equal(s.expireIn, HOUR, String(s.key));

    sets.length = 0;
    c.t = T0 + HOUR + 30 * 60_000;
    await store.update("r", { prompt: "p" });
    assert.deepEqual(sets.map((s) => s.key[0]).sort(), ["head", "runs", "runs_running_by"]);
    for (const s of sets) assert.equal(s.expireIn, 30 * 60_000, String(s.key));

    // Deno KV deletes expired keys lazily: the store must not serve them meanwhile.
    c.t = T0 + 2 * HOUR;
    assert.equal(await store.get("r"), null);
    assert.deepEqual((await store.list()).runs, []);
    await assert.rejects(store.append("r", [ev("step_completed", 1)]), RunNotFoundError);
    await assert.rejects(store.update("r", { prompt: "q" }), RunNotFoundError);
    await assert.rejects(store.subscribe("r", 0).next(), RunNotFoundError);

    // The id can be used again; the old run's leftovers are cleared first.
    assert.equal(await store.create(summary("r")), true);
    assert.deepEqual(await store.read("r", 0), []);
    assert.equal((await store.get("r"))?.eventCount, 0);
    assert.deepEqual((await store.list()).runs.map((r) => r.id), ["r"]);
  } finally {
    await store.close();
    raw.close();
  }
});

Deno.test("close: idempotent, closes an owned KV, leaves a borrowed one open", async () => {
  const owned = await openKvRunStore({ path: ":memory:", ttlHours: 1 });
  await owned.close();
  await owned.close();
  await assert.rejects(owned.get("x"), /closed/);

  const kv = await Deno.openKv(":memory:");
  const borrowed = new KvRunStore(kv, { ttlHours: 1 });
  await borrowed.close();
  await kv.set(["still", "open"], 1);
  assert.equal((await kv.get(["still", "open"])).value, 1);
  kv.close();
});

Deno.test("openKvRunStore creates the KV file's directory; the default path is ./data/runs.kv", async () => {
  assert.equal(DEFAULT_KV_PATH, "./data/runs.kv");
  const dir = await Deno.makeTempDir({ prefix: "runs_kv_" });
  try {
    const path = `${dir}/nested/data/runs.kv`;
    const store = await openKvRunStore({ path, ttlHours: 1 });
    try {
      assert.equal(await store.create(summary("r")), true);
    } finally {
      await store.close();
    }
    assert.ok((await Deno.stat(path)).isFile);
    const again = await openKvRunStore({ path, ttlHours: 1 });
    try {
      assert.equal((await again.get("r"))?.id, "r");
    } finally {
      await again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
