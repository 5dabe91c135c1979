/**
 * DenoKvSaver on a real Deno KV (`:memory:`, or a temp file opened again by a new saver as a
 * restarted process would): states over KV's 64 KiB value limit, a LangGraph graph interrupted
 * and resumed by a new saver on a new KV handle, deleteThread, expiry. LangGraph's own
 * conformance suite runs in tests/integration/kv_checkpoint_conformance_test.ts.
 */
import assert from "node:assert/strict";
import {
  type Checkpoint,
  type CheckpointMetadata,
  emptyCheckpoint,
  ERROR,
  uuid6,
} from "@langchain/langgraph-checkpoint";
import { Annotation, Command, END, interrupt, START, StateGraph } from "@langchain/langgraph";
import type { RunnableConfig } from "@langchain/core/runnables";
import { DenoKvSaver } from "../../lib/kv_checkpoint/mod.ts";

const META: CheckpointMetadata = { source: "loop", step: 0, parents: {} };

/** A string of `bytes` incompressible ASCII characters. */
function bigText(bytes: number): string {
  const raw = new Uint8Array(Math.ceil(bytes * 3 / 4));
  for (let i = 0; i < raw.length; i += 65_536) crypto.getRandomValues(raw.subarray(i, i + 65_536));
  let bin = "";
  for (let i = 0; i < raw.length; i += 8192) {
    bin += String.fromCharCode(...raw.subarray(i, i + 8192));
  }
  return btoa(bin).slice(0, bytes);
}

function checkpointWith(values: Record<string, unknown>): Checkpoint {
  const cp = emptyCheckpoint();
  cp.id = uuid6(-1);
  cp.channel_values = values;
  cp.channel_versions = Object.fromEntries(Object.keys(values).map((k) => [k, 1]));
  return cp;
}

async function allEntries(kv: Deno.Kv, prefix: Deno.KvKey = []) {
  return await Array.fromAsync(kv.list({ prefix }));
}

function valueBytes(value: unknown): number {
  return value instanceof Uint8Array ? value.length : 0;
}

for (const size of [300_000, 2_000_000]) {
  Deno.test(`a ${size / 1000} KB state round-trips through put, getTuple and list`, async () => {
    const kv = await Deno.openKv(":memory:");
    try {
      const saver = new DenoKvSaver(kv);
      const doc = { text: bigText(size), rows: Array.from({ length: 50 }, (_, i) => ({ i })) };
      const cp = checkpointWith({ doc, small: "x" });
      const config = await saver.put(
        { configurable: { thread_id: "big", checkpoint_ns: "" } },
        cp,
        META,
        cp.channel_versions,
      );
      const big = bigText(size / 2);
      await saver.putWrites(config, [["doc", big], ["small", "y"]], "task-1");

      const tuple = await saver.getTuple({ configurable: { thread_id: "big" } });
      assert.ok(tuple);
      assert.deepEqual(tuple.checkpoint, cp);
      assert.deepEqual(tuple.metadata, META);
      assert.deepEqual(tuple.pendingWrites, [["task-1", "doc", big], ["task-1", "small", "y"]]);
      const listed = await Array.fromAsync(saver.list({ configurable: { thread_id: "big" } }));
      assert.equal(listed.length, 1);
      assert.deepEqual(listed[0], tuple);

      // The values really were split: parts exist and no KV value is over its limit.
      const entries = await allEntries(kv);
      assert.ok(entries.some((e) => e.key.includes("part")));
      for (const e of entries) assert.ok(valueBytes(e.value) <= 65_536, String(e.key));
    } finally {
      kv.close();
    }
  });
}

Deno.test("a checkpoint that carries a channel points at its parent's value, not a copy", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const saver = new DenoKvSaver(kv);
    const doc = bigText(200_000);
    const cp1 = checkpointWith({ doc, n: 1 });
    const c1 = await saver.put({ configurable: { thread_id: "t" } }, cp1, META, { doc: 1, n: 1 });
    const before = (await allEntries(kv)).length;
    const cp2 = checkpointWith({ doc, n: 2 });
    cp2.channel_versions = { doc: 1, n: 2 };
    const c2 = await saver.put(c1, cp2, { ...META, step: 1 }, { n: 2 });
    // One record and one channel value: the 200 KB document was not written again.
    assert.equal((await allEntries(kv)).length, before + 2);
    const tuple = await saver.getTuple(c2);
    assert.deepEqual(tuple?.checkpoint.channel_values, { doc, n: 2 });
    assert.equal(tuple?.parentConfig?.configurable?.checkpoint_id, cp1.id);
  } finally {
    kv.close();
  }
});

Deno.test("a carried channel whose parent record is gone is stored from the checkpoint itself", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const saver = new DenoKvSaver(kv);
    const cp1 = checkpointWith({ doc: "kept", n: 1 });
    const c1 = await saver.put({ configurable: { thread_id: "t" } }, cp1, META, { doc: 1, n: 1 });
    await kv.delete(["lg_ckpt", "cp", "t", "", cp1.id]);
    const cp2 = checkpointWith({ doc: "kept", n: 2 });
    cp2.channel_versions = { doc: 1, n: 2 };
    const c2 = await saver.put(c1, cp2, META, { n: 2 });
    assert.deepEqual((await saver.getTuple(c2))?.checkpoint.channel_values, { doc: "kept", n: 2 });
  } finally {
    kv.close();
  }
});

Deno.test("putWrites keeps a stored regular write and replaces a special one, parts included", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const saver = new DenoKvSaver(kv);
    const cp = checkpointWith({});
    const config = await saver.put({ configurable: { thread_id: "w" } }, cp, META, {});
    const first = bigText(150_000);
    const second = bigText(150_000);
    await saver.putWrites(config, [["out", "a"], [ERROR, first]], "task");
    await saver.putWrites(config, [["out", "b"], [ERROR, second]], "task");
    const tuple = await saver.getTuple(config);
    assert.deepEqual(tuple?.pendingWrites, [["task", ERROR, second], ["task", "out", "a"]]);
    // Only the replacing error's parts are left (150 KB = 3 parts of 63 KiB).
    const parts = (await allEntries(kv)).filter((e) => e.key.includes("part"));
    assert.equal(parts.length, 3);
  } finally {
    kv.close();
  }
});

const State = Annotation.Root({
  guest: Annotation<string>,
  document: Annotation<string>,
  decision: Annotation<string>,
  booked: Annotation<string>,
});

/** A graph that prepares a big document, waits for a decision, then books. */
function buildGraph(runs: Record<string, number>) {
  return new StateGraph(State)
    .addNode("prepare", (s: typeof State.State) => {
      runs.prepare = (runs.prepare ?? 0) + 1;
      return { document: `${s.guest}:${bigText(300_000)}` };
    })
    .addNode("approval", () => {
      runs.approval = (runs.approval ?? 0) + 1;
      const decision = interrupt({ question: "approve?" }) as string;
      return { decision };
    })
    .addNode("book", (s: typeof State.State) => {
      runs.book = (runs.book ?? 0) + 1;
      return { booked: `${s.guest}/${s.decision}/${s.document.length}` };
    })
    .addEdge(START, "prepare")
    .addEdge("prepare", "approval")
    .addEdge("approval", "book")
    .addEdge("book", END);
}

Deno.test("an interrupted graph resumes from a new saver on a new KV handle of the same file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/checkpoints.kv`;
  const config = { configurable: { thread_id: "restart-1" } };
  const runs: Record<string, number> = {};
  try {
    const kv1 = await Deno.openKv(path);
    const first = buildGraph(runs).compile({ checkpointer: new DenoKvSaver(kv1) });
    const paused = await first.invoke({ guest: "John Doe" }, config);
    const { __interrupt__: pending } = paused as { __interrupt__?: { value: unknown }[] };
    assert.deepEqual(pending?.map((i) => i.value), [{ question: "approve?" }]);
    const document = paused.document;
    assert.equal(document.length, "John Doe:".length + 300_000);
    kv1.close();

    // A "restarted process": nothing shared with the first but the file.
    const kv2 = await Deno.openKv(path);
    try {
      const second = buildGraph(runs).compile({ checkpointer: new DenoKvSaver(kv2) });
      const waiting = await second.getState(config);
      assert.deepEqual(waiting.next, ["approval"]);
      const done = await second.invoke(new Command({ resume: "approve" }), config);
      assert.equal(done.decision, "approve");
      assert.equal(done.document, document);
      assert.equal(done.booked, `John Doe/approve/${document.length}`);
      // prepare ran once; approval ran again on resume (LangGraph re-runs the interrupted node).
      assert.deepEqual(runs, { prepare: 1, approval: 2, book: 1 });
      assert.deepEqual((await second.getState(config)).next, []);
    } finally {
      kv2.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deleteThread removes every key of the thread and nothing else", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const prefix = ["app", "checkpoints"];
    const saver = new DenoKvSaver(kv, { prefix });
    for (const thread of ["gone", "kept"]) {
      let config: RunnableConfig = { configurable: { thread_id: thread, checkpoint_ns: "" } };
      for (const ns of ["", "child"]) {
        const cp = checkpointWith({ doc: bigText(150_000), n: ns });
        config = await saver.put(
          { configurable: { ...config.configurable, checkpoint_ns: ns } },
          cp,
          META,
          cp.channel_versions,
        );
        await saver.putWrites(config, [["doc", bigText(100_000)], ["n", 1]], "task");
      }
    }
    await kv.set(["unrelated"], 1);
    const mentions = (e: Deno.KvEntry<unknown>, thread: string) => e.key.includes(thread);
    assert.ok((await allEntries(kv)).some((e) => mentions(e, "gone")));

    await saver.deleteThread("gone");
    const left = await allEntries(kv);
    assert.deepEqual(left.filter((e) => mentions(e, "gone")).map((e) => e.key), []);
    assert.ok(left.some((e) => mentions(e, "kept") && e.key.includes("part")));
    assert.ok(left.every((e) => e.key[0] === "app" || e.key[0] === "unrelated"));
    assert.equal(await saver.getTuple({ configurable: { thread_id: "gone" } }), undefined);
    assert.equal(
      (await Array.fromAsync(saver.list({ configurable: { thread_id: "gone" } }))).length,
      0,
    );
    const kept = await Array.fromAsync(saver.list({ configurable: { thread_id: "kept" } }));
    assert.equal(kept.length, 2);
  } finally {
    kv.close();
  }
});

/** Records the options of every `set` made through `kv.atomic()` (the writes still happen). */
function recordSets(kv: Deno.Kv): Array<{ key: Deno.KvKey; expireIn?: number }> {
  const sets: Array<{ key: Deno.KvKey; expireIn?: number }> = [];
  const atomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = atomic();
    const set = op.set.bind(op);
    op.set = (key, value, options) => {
      sets.push({ key, expireIn: options?.expireIn });
      return set(key, value, options);
    };
    return op;
  };
  return sets;
}

Deno.test("expireIn is applied to every key written, and a checkpoint never outlives its values", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const sets = recordSets(kv);
    let now = 1_000_000;
    const saver = new DenoKvSaver(kv, { expireIn: 10_000, now: () => now });
    const doc = bigText(100_000);
    const cp1 = checkpointWith({ doc, n: 1 });
    const c1 = await saver.put({ configurable: { thread_id: "t" } }, cp1, META, { doc: 1, n: 1 });
    await saver.putWrites(c1, [["n", 2], ["doc", bigText(80_000)]], "task");
    assert.ok(sets.length >= 5);
    assert.ok(sets.some((s) => s.key.includes("part")));
    assert.deepEqual(sets.filter((s) => s.expireIn !== 10_000), []);

    // 3 s later the carried document has 7 s left: the new record expires with it.
    now += 3_000;
    sets.length = 0;
    const cp2 = checkpointWith({ doc, n: 2 });
    cp2.channel_versions = { doc: 1, n: 2 };
    const c2 = await saver.put(c1, cp2, META, { n: 2 });
    const record2 = sets.find((s) => s.key.includes("cp"));
    assert.equal(record2?.expireIn, 7_000);
    assert.ok(!sets.some((s) => s.key.includes("doc")));

    // 6 s after it was written, under half its life is left: it is written again with the record.
    now += 3_000;
    sets.length = 0;
    const cp3 = checkpointWith({ doc, n: 3 });
    cp3.channel_versions = { doc: 1, n: 3 };
    const c3 = await saver.put(c2, cp3, META, { n: 3 });
    assert.ok(sets.some((s) => s.key.includes("doc")));
    assert.deepEqual(sets.filter((s) => s.expireIn !== 10_000), []);
    assert.deepEqual((await saver.getTuple(c3))?.checkpoint.channel_values, { doc, n: 3 });
  } finally {
    kv.close();
  }
});

Deno.test("expireIn must be positive", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    assert.throws(() => new DenoKvSaver(kv, { expireIn: 0 }), RangeError);
  } finally {
    kv.close();
  }
});
