/**
 * Dedupe by upstream id, at every split point of a replay: whatever prefix of a run the log
 * already holds (k = 0 … N events), a replay from the workflow service, even one that starts
 * earlier than asked and arrives cut at odd byte positions, leaves the log holding every event
 * exactly once, in order. Both ways in: a takeover that starts from the upstream id the store
 * committed, and a relay whose stream broke and is rejoined inside the same pump.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Failure, pump, type PumpDeps } from "../../lib/gateway/pump.ts";
import { createLogger } from "../../lib/log.ts";
import { Metrics } from "../../lib/metrics.ts";
import { openKvRunStore, type RunStore } from "../../lib/runs/mod.ts";
import type { RunSummary } from "../../lib/events.ts";
import { encodeEvent } from "../../lib/sse/encode.ts";

const TS = "2026-01-01T00:00:00.000Z";
const RUN = "dedupe-run";

/** The service's events of one run, with their ids 1..N. */
const EVENTS: Array<{ id: number; type: string; data: string }> = [
  ["workflow_initialized", { graph: "g" }],
  ["step_started", { step: "a" }],
  ["step_completed", { step: "a", result: { n: 1 } }],
  ["artifact", { name: "doc", mime: "application/json", content: { x: "é, a multi-byte char" } }],
  ["step_started", { step: "b" }],
  ["step_completed", { step: "b", result: { n: 2 } }],
  ["step_started", { step: "c" }],
  ["step_completed", { step: "c", result: { n: 3 } }],
  ["workflow_complete", { status: "success", result: { ok: true } }],
].map(([type, data], i) => ({
  id: i + 1,
  type: type as string,
  data: JSON.stringify({ ...(data as object), workflowId: RUN, ts: TS }),
}));
const N = EVENTS.length;

/** SSE of events `from`..N (1-based), cut into `piece`-byte chunks. */
function replay(from: number, piece: number): ReadableStream<Uint8Array> {
  const text = EVENTS.slice(from - 1)
    .map((e) => encodeEvent({ id: e.id, event: e.type, data: e.data })).join("");
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

/** SSE of events 1..k that then breaks (the relay's stream cut mid-run). */
function cutAfter(k: number): ReadableStream<Uint8Array> {
  const text = EVENTS.slice(0, k)
    .map((e) => encodeEvent({ id: e.id, event: e.type, data: e.data })).join("");
  let sent = false;
  return new ReadableStream({
    pull(c) {
      if (sent) return c.error(new Error("connection reset"));
      sent = true;
      c.enqueue(new TextEncoder().encode(text + "event: step_start"));
    },
  });
}

async function freshStore(): Promise<RunStore> {
  const store = await openKvRunStore({ path: ":memory:", ttlHours: 1 });
  const at = new Date().toISOString();
  const summary: RunSummary = {
    id: RUN,
    graph: "g",
    dialect: "workflow",
    status: "running",
    createdAt: at,
    updatedAt: at,
    eventCount: 0,
  };
  await store.create(summary);
  return store;
}

function deps(store: RunStore, failures: Failure[]): PumpDeps {
  return {
    store,
    metrics: new Metrics(),
    now: Date.now,
    closing: () => false,
    recordError: async (_id, _graph, _log, failure) => {
      failures.push(failure);
      await store.append(RUN, [{
        type: "workflow_error",
        data: JSON.stringify({ ...failure, retries: 0, workflowId: RUN, ts: TS }),
      }]);
    },
    stopUpstream: () => Promise.resolve(),
    countFinished: () => {},
    isAfter: (a, b) => Number(a) > Number(b),
  };
}

async function assertWhole(store: RunStore, what: string): Promise<void> {
  const logged = await store.read(RUN, 0);
  assert.deepEqual(
    logged.map((e) => `${e.seq} ${e.type} ${e.data}`),
    EVENTS.map((e) => `${e.id} ${e.type} ${e.data}`),
    what,
  );
  assert.equal((await store.get(RUN))!.lastUpstreamId, String(N), what);
}

const log = createLogger("silent");

describe("dedupe by upstream id at every split point of a replay", () => {
  it("takeover: the log holds k events, the service replays from any j ≤ k + 1", async () => {
    for (let k = 0; k <= N; k++) {
      for (const j of new Set([1, Math.max(1, k), k + 1].filter((x) => x <= N + 1))) {
        const store = await freshStore();
        try {
          if (k > 0) {
            await store.append(
              RUN,
              EVENTS.slice(0, k).map((e) => ({
                type: e.type,
                data: e.data,
                upstreamId: String(e.id),
              })),
            );
          }
          const failures: Failure[] = [];
          const from = (await store.get(RUN))!.lastUpstreamId ?? null;
          assert.equal(from, k > 0 ? String(k) : null);
          if (k < N) {
            const outcome = await pump(deps(store, failures), {
              runId: RUN,
              graph: "g",
              body: replay(j, 7 + k),
              log,
              afterId: from,
            });
            assert.equal(outcome, "finished", `k=${k} j=${j}`);
          }
          assert.deepEqual(failures, []);
          await assertWhole(store, `k=${k}, replay from ${j}`);
        } finally {
          await store.close();
        }
      }
    }
  });

  it("a relay whose stream breaks after k events rejoins in the same pump, from an earlier id", async () => {
    for (let k = 0; k < N; k++) {
      const store = await freshStore();
      try {
        const asked: Array<string | null> = [];
        const failures: Failure[] = [];
        const outcome = await pump(deps(store, failures), {
          runId: RUN,
          graph: "g",
          body: cutAfter(k),
          log,
          reconnect: (afterId) => {
            asked.push(afterId);
            // A service that replays everything again: the pump must drop what it holds.
            return Promise.resolve({ body: replay(1, 5) });
          },
        });
        assert.equal(outcome, "finished", `k=${k}`);
        assert.deepEqual(asked, [k > 0 ? String(k) : null], `k=${k}: rejoined after the last id`);
        assert.deepEqual(failures, []);
        await assertWhole(store, `cut after ${k}`);
      } finally {
        await store.close();
      }
    }
  });

  it("the service's approval_resolved after a decision the gateway logged is dropped", async () => {
    const store = await freshStore();
    try {
      const gate = JSON.stringify({ stepId: "ok", message: "?", workflowId: RUN, ts: TS });
      const mine = JSON.stringify({ stepId: "ok", decision: "approve", workflowId: RUN, ts: TS });
      await store.append(RUN, [
        { type: "workflow_initialized", data: EVENTS[0].data, upstreamId: "1" },
        { type: "approval_required", data: gate, upstreamId: "2" },
        { type: "approval_resolved", data: mine },
      ]);
      const theirs = JSON.stringify({
        stepId: "ok",
        decision: "approve",
        workflowId: RUN,
        ts: "x",
      });
      const done = EVENTS[N - 1].data;
      const text = encodeEvent({ id: 3, event: "approval_resolved", data: theirs }) +
        encodeEvent({ id: 4, event: "workflow_complete", data: done });
      const outcome = await pump(deps(store, []), {
        runId: RUN,
        graph: "g",
        body: new Response(text).body!,
        log,
        afterId: "2",
        resumedStep: "ok",
      });
      assert.equal(outcome, "finished");
      const logged = await store.read(RUN, 0);
      assert.deepEqual(logged.map((e) => e.type), [
        "workflow_initialized",
        "approval_required",
        "approval_resolved",
        "workflow_complete",
      ]);
      assert.equal(logged[2].data, mine, "the gateway's record of the decision stays");
      assert.equal((await store.get(RUN))!.lastUpstreamId, "4");
    } finally {
      await store.close();
    }
  });
});
