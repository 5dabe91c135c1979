/**
 * The relay gathers a run's plain events into few run-log writes while its own viewers get each
 * event as it arrives (events are handed out ahead of their commit): a steady stream costs a KV
 * page per commit window, not one per upstream read. Real gateway, real KV file, fake upstream.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { keys } from "../../lib/runs/kv_codec.ts";
import { FAKE_TS, type FakeUpstream, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { readSse, types } from "../fixtures/sse_reader.ts";

const STEPS = 40;

describe("relay batching", () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  let dir: string;
  before(async () => {
    fake = await startFakeUpstream({
      script: async (w, ctx) => {
        const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
        w.frame("workflow_initialized", { ...base, graph: "g" });
        // One event per upstream write, a little apart: what a live workflow sends.
        for (let i = 0; i < STEPS && !w.cancelled; i++) {
          await w.pause(2);
          w.frame("step_started", { ...base, step: `s${i}` });
        }
        w.frame("workflow_complete", { ...base, status: "complete", result: {} });
      },
    });
    dir = await Deno.makeTempDir({ prefix: "relay_batching_" });
    gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, KV_PATH: `${dir}/runs.kv` });
  });
  after(async () => {
    await gw.close();
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  });

  it("commits a steady stream in far fewer pages than reads, and the viewer misses nothing", async () => {
    const runId = crypto.randomUUID();
    const read = await readSse(
      await postJson(`${gw.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: {},
        run_id: runId,
      }),
    );
    assert.equal(read.frames.length, STEPS + 2);
    assert.equal(types(read).at(-1), "workflow_complete");
    assert.deepEqual(read.frames.map((f) => Number(f.id)), read.frames.map((_, i) => i + 1));
    const kv = await Deno.openKv(`${dir}/runs.kv`);
    try {
      let pages = 0;
      for await (const _ of kv.list({ prefix: keys.pages(runId) })) pages++;
      assert.ok(pages <= STEPS / 2, `${pages} pages for ${STEPS + 2} events`);
    } finally {
      kv.close();
    }
    const replay = await readSse(await fetch(`${gw.url}/agui/runs/${runId}/events`));
    assert.deepEqual(replay.frames, read.frames, "the log holds every event, in order");
  });
});
