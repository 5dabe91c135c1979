/**
 * The start admission in the served app (`lib/app.ts` `servedHandler`), against a scripted fake
 * workflow service that answers each `/execute` only when the test says, both on real
 * `Deno.serve` port 0: at most `MAX_STARTING_RUNS` starts in progress, the others waiting in
 * arrival order without a run or a stream place, and shutdown answering the waiting ones 503.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FAKE_TS } from "../fixtures/fake_upstream.ts";
import { postJson, type RelayPair, relayToFake } from "../fixtures/gateway.ts";
import { poll } from "../fixtures/within.ts";

const BODY = { graph_name: "hotel_o2c", initial_state: { prompt: "Two nights" } };

/** Waits (bounded) until `ok()` holds; fails naming it otherwise. */
async function until(ok: () => boolean | Promise<boolean>): Promise<void> {
  assert.ok(await poll(ok, 1_000, 5), `not reached: ${ok}`);
}

describe("POST /agui behind the start admission", () => {
  let pair!: RelayPair;
  relayToFake({ env: { MAX_STARTING_RUNS: "2" } }, (p) => pair = p);

  it("runs at most MAX_STARTING_RUNS starts at once; the others wait in order with no run and no stream place, and shutdown answers them 503", async () => {
    const { fake, gw } = pair;
    const answers = new Map<string, () => void>();
    fake.setScript(async (w, ctx) => {
      await new Promise<void>((r) => answers.set(ctx.request.thread_id!, r));
      const workflowId = ctx.request.thread_id;
      w.frame("workflow_initialized", { workflowId, ts: FAKE_TS, graph: "hotel_o2c" });
      await w.idle();
    });
    const gateway = gw.services.gateway;
    const threads = () => fake.executeCalls.map((c) => c.thread_id);
    const start = (id: string) => postJson(`${gw.url}/agui`, { ...BODY, run_id: id });

    try {
      const a = start("adm-a");
      await until(() => threads().length === 1);
      const b = start("adm-b");
      await until(() => threads().length === 2);
      const c = start("adm-c");
      await until(() => gateway.startsWaiting === 1);
      const d = start("adm-d");
      await until(() => gateway.startsWaiting === 2);
      assert.deepEqual(threads(), ["adm-a", "adm-b"], "two in progress");
      assert.equal(await gw.services.store.get("adm-c"), null, "a waiting start created no run");
      // Nor a place among MAX_STREAMS: only the two in progress reserved theirs.
      assert.equal(gw.services.streams.reserved, 2, "waiting starts reserved no stream");

      answers.get("adm-b")!();
      await until(() => threads().length === 3);
      assert.equal(threads()[2], "adm-c", "the first waiting start takes the place given back");
      answers.get("adm-a")!();
      await until(() => threads().length === 4);
      assert.equal(threads()[3], "adm-d");
      answers.get("adm-c")!();
      answers.get("adm-d")!();
      for (const r of [a, b, c, d]) {
        const got = await r;
        assert.equal(got.status, 200);
        await got.body?.cancel();
      }
      await until(() => gateway.startsWaiting === 0);

      // Two in progress again, one waiting: shutdown sends the waiting one to the app, which
      // refuses it, and it creates nothing.
      const e = start("adm-e");
      const f = start("adm-f");
      await until(() => threads().length === 6);
      const g = start("adm-g");
      await until(() => gateway.startsWaiting === 1);
      await gateway.shutdown({ keepLease: true });
      const refused = await g;
      assert.equal(refused.status, 503);
      assert.equal((await refused.json()).error, "shutting_down");
      assert.equal(await gw.services.store.get("adm-g"), null);
      for (const r of [e, f]) await (await r).body?.cancel();
    } finally {
      // Scripts still waiting would hold the fake open.
      for (const answer of answers.values()) answer();
    }
  });
});
