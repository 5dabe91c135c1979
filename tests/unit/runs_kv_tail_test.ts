/**
 * The newest events kept in the run's head (`lib/runs/kv_tail.ts`) on a real Deno KV: small
 * appends write no page row, the head's events move to a page when the next append does not fit
 * beside them, reads join pages and head at any seq, and a read that races such a move neither
 * loses nor repeats an event.
 */
import assert from "node:assert/strict";
import type { RunSummary } from "../../lib/events.ts";
import { KvRunStore } from "../../lib/runs/mod.ts";
import { type HeadValue, keys } from "../../lib/runs/kv_codec.ts";
import { readEvents } from "../../lib/runs/kv_read.ts";
import { TAIL_CHARS } from "../../lib/runs/kv_tail.ts";

function summary(id: string): RunSummary {
  const at = new Date().toISOString();
  return {
    id,
    graph: "g",
    status: "running",
    createdAt: at,
    updatedAt: at,
    eventCount: 0,
  } as RunSummary;
}

function step(n: number, pad = "") {
  return { type: "step_started", data: JSON.stringify({ workflowId: "r", n, pad }) };
}

async function pageRows(kv: Deno.Kv, id: string): Promise<number[]> {
  const out: number[] = [];
  for await (const e of kv.list({ prefix: keys.pages(id) })) out.push(e.key[2] as number);
  return out;
}

async function head(kv: Deno.Kv, id: string): Promise<HeadValue> {
  return (await kv.get<HeadValue>(keys.head(id))).value!;
}

async function open() {
  const kv = await Deno.openKv(":memory:");
  const store = new KvRunStore(kv, { ttlHours: 1, watch: false, ownsKv: true });
  await store.create(summary("r"));
  return { kv, store };
}

const ns = (evs: { data: string }[]) => evs.map((e) => JSON.parse(e.data).n);

Deno.test("small appends go into the head; its events move to a page when the next does not fit", async () => {
  const { kv, store } = await open();
  try {
    await store.append("r", [step(1)]);
    await store.append("r", [step(2), step(3)]);
    assert.deepEqual(await pageRows(kv, "r"), [], "no page row for appends that fit the head");
    let h = await head(kv, "r");
    assert.equal(h.seq, 3);
    assert.equal(h.tn, 3);
    assert.deepEqual(ns(await store.read("r", 0)), [1, 2, 3]);
    assert.deepEqual((await store.read("r", 1)).map((e) => e.seq), [2, 3]);

    // Fill the head to its limit: the append that does not fit moves the head's events to a
    // page keyed by their last seq, and itself goes into the emptied head.
    let n = 3;
    while ((await head(kv, "r")).tail!.length + 80 <= TAIL_CHARS) {
      await store.append("r", [step(++n)]);
    }
    assert.deepEqual(await pageRows(kv, "r"), []);
    const before = (await head(kv, "r")).seq;
    await store.append("r", [step(++n, "x".repeat(60))]);
    assert.deepEqual(await pageRows(kv, "r"), [before]);
    h = await head(kv, "r");
    assert.equal(h.seq, before + 1);
    assert.equal(h.tn, 1);

    const all = await store.read("r", 0);
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: n }, (_, i) => i + 1));
    assert.deepEqual(ns(all), Array.from({ length: n }, (_, i) => i + 1));
    // Reads starting inside the page, at its end, inside the head, with limits across both.
    assert.deepEqual((await store.read("r", before - 1)).map((e) => e.seq), [before, before + 1]);
    assert.deepEqual((await store.read("r", before)).map((e) => e.seq), [before + 1]);
    assert.deepEqual((await store.read("r", before - 2, 2)).map((e) => e.seq), [
      before - 1,
      before,
    ]);
    assert.deepEqual(await store.read("r", before + 1), []);
    assert.equal((await store.get("r"))?.eventCount, n);
  } finally {
    await store.close();
  }
});

Deno.test("events a head cannot hold (line breaks, wide text, big batches) go to pages after its own", async () => {
  const { kv, store } = await open();
  try {
    await store.append("r", [step(1), step(2)]);
    const lf = { type: "message", data: '{"text":"a\\nb"}'.replace("\\n", "\n") };
    await store.append("r", [lf]);
    // The head's two events went to a page first, in the same write, then the event's own page.
    assert.deepEqual(await pageRows(kv, "r"), [2, 3]);
    assert.equal((await head(kv, "r")).tn, undefined);

    await store.append("r", [step(4)]);
    const wide = { type: "message", data: JSON.stringify({ text: "日本語 ✓", n: 5 }) };
    await store.append("r", [wide]);
    assert.deepEqual(await pageRows(kv, "r"), [2, 3, 4, 5]);

    const big = Array.from({ length: 40 }, (_, i) => step(6 + i));
    await store.append("r", big);
    await store.append("r", [{ type: "workflow_complete", data: '{"workflowId":"r"}' }]);
    const all = await store.read("r", 0);
    assert.equal(all.length, 46);
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: 46 }, (_, i) => i + 1));
    assert.equal(all[2].data, lf.data);
    assert.equal(all[4].data, wide.data);
    assert.equal(all[45].type, "workflow_complete");
    assert.deepEqual(ns(all.slice(5, 45)), Array.from({ length: 40 }, (_, i) => 6 + i));
  } finally {
    await store.close();
  }
});

Deno.test("a read racing a move of the head's events to a page neither loses nor repeats one", async () => {
  const { kv, store } = await open();
  try {
    // Events 1..40 in pages, 41..44 in the head.
    await store.append("r", Array.from({ length: 40 }, (_, i) => step(i + 1, "z")));
    for (let i = 41; i <= 44; i++) await store.append("r", [step(i)]);
    assert.deepEqual(await pageRows(kv, "r"), [40]);
    // The reader gets the head, then the writer moves it to a page and appends more before the
    // reader lists the pages.
    let raced = false;
    const racing = new Proxy(kv, {
      get(target, prop) {
        if (prop === "get") {
          return async (key: Deno.KvKey) => {
            const entry = await target.get(key);
            if (!raced && key[0] === "head") {
              raced = true;
              await store.append("r", Array.from({ length: 30 }, (_, i) => step(45 + i, "y")));
            }
            return entry;
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const seen = await readEvents(racing, "r", 38);
    assert.ok(raced);
    assert.deepEqual(await pageRows(kv, "r"), [40, 44, 74], "the head's events are in a page now");
    // What the head said when read: events 39..44, each once.
    assert.deepEqual(seen.map((e) => e.seq), [39, 40, 41, 42, 43, 44]);
    assert.deepEqual(ns(seen), [39, 40, 41, 42, 43, 44]);
    assert.deepEqual((await store.read("r", 0)).map((e) => e.seq).length, 74);
  } finally {
    await store.close();
  }
});
