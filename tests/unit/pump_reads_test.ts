/**
 * The pump reads the upstream only when no log write is in flight: what the service sends
 * meanwhile waits in the connection and comes in the next read (one batch, one append), and
 * every read is counted for `/metrics`. The stream's first append asks to commit first. The log is a real Deno KV store; only its `append` is
 * held open to stand for a slow commit.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pump, type PumpDeps } from "../../lib/gateway/pump.ts";
import { createLogger } from "../../lib/log.ts";
import { Metrics } from "../../lib/metrics.ts";
import { openKvRunStore, type RunStore } from "../../lib/runs/mod.ts";
import { encodeEvent } from "../../lib/sse/encode.ts";

const TS = "2026-01-01T00:00:00.000Z";
const RUN = "reads-run";
const STEPS = 6;

function frame(i: number, type: string, data: object): Uint8Array {
  return new TextEncoder().encode(
    encodeEvent({ id: i, event: type, data: JSON.stringify({ ...data, workflowId: RUN, ts: TS }) }),
  );
}

/**
 * One frame per read (padded to `pad` bytes: a bulk stream's reads are big); the last one
 * completes the run. Counts the reads asked for.
 */
function upstream(pad = 0): { body: ReadableStream<Uint8Array>; pulls: () => number } {
  let n = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      n++;
      if (n <= STEPS) c.enqueue(frame(n, "step_started", { step: `s${n}`, pad: "x".repeat(pad) }));
      else {
        c.enqueue(frame(n, "workflow_complete", { status: "success", result: {} }));
        c.close();
      }
    },
  }, { highWaterMark: 0 });
  return { body, pulls: () => n };
}

/** The real store, with appends that wait until `release()` is called (a slow commit). */
function heldAppends(
  store: RunStore,
): { store: RunStore; appends: () => number; firsts: boolean[]; release: () => void } {
  let gate = Promise.withResolvers<void>();
  let count = 0;
  const firsts: boolean[] = [];
  const held: RunStore = Object.create(store);
  held.append = async (...args: Parameters<RunStore["append"]>) => {
    count++;
    firsts.push(args[3]?.first === true);
    await gate.promise;
    return await store.append(...args);
  };
  return {
    store: held,
    appends: () => count,
    firsts,
    release: () => {
      gate.resolve();
      gate = Promise.withResolvers<void>();
    },
  };
}

/** A real run log (KV in memory) holding the run the tests pump into. */
async function openRun(): Promise<RunStore> {
  const store = await openKvRunStore({ path: ":memory:", ttlHours: 1 });
  const at = new Date().toISOString();
  await store.create({
    id: RUN,
    graph: "g",
    dialect: "workflow",
    status: "running",
    createdAt: at,
    updatedAt: at,
    eventCount: 0,
  });
  return store;
}

/** What the pump needs, around `store`. */
function pumpDeps(store: RunStore, metrics: Metrics): PumpDeps {
  return {
    store,
    metrics,
    now: Date.now,
    closing: () => false,
    recordError: () => Promise.resolve(),
    stopUpstream: () => Promise.resolve(),
    countFinished: () => {},
    isAfter: (a, b) => Number(a) > Number(b),
  };
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};

describe("pump reads", () => {
  it("does not read while a log write is in flight, and counts its reads", async () => {
    const real = await openRun();
    try {
      const { store, appends, firsts, release } = heldAppends(real);
      const metrics = new Metrics();
      const deps = pumpDeps(store, metrics);
      const up = upstream();
      const done = pump(deps, {
        runId: RUN,
        graph: "g",
        body: up.body,
        log: createLogger("silent"),
      });
      await turns(20);
      // The first read's event is being written: nothing more is read until that write ends.
      assert.equal(appends(), 1);
      assert.equal(up.pulls(), 1);
      for (let i = 2; i <= STEPS + 1; i++) {
        release();
        await turns(20);
        assert.equal(up.pulls(), i, `read ${i} follows write ${i - 1}`);
        assert.equal(appends(), i);
      }
      release();
      assert.equal(await done, "finished");
      assert.equal(metrics.upstream.reads, STEPS + 1);
      // Only the stream's first append goes ahead of other runs' queued appends.
      assert.deepEqual(firsts, [true, ...Array(STEPS).fill(false)]);
      assert.match(
        metrics.render(),
        new RegExp(`^workflow_upstream_reads_total ${STEPS + 1}$`, "m"),
      );
      const logged = await real.read(RUN, 0);
      assert.deepEqual(
        logged.map((e) => e.type),
        [...Array(STEPS).fill("step_started"), "workflow_complete"],
      );
    } finally {
      await real.close();
    }
  });

  it("lets the job's body go once it holds the reader", async () => {
    const real = await openRun();
    try {
      const { store, release } = heldAppends(real);
      const up = upstream();
      const job = { runId: RUN, graph: "g", body: up.body, log: createLogger("silent") };
      const done = pump(pumpDeps(store, new Metrics()), job);
      await turns(20);
      // Mid-run, waiting on its write: an idle run keeps its reader, not the stream object.
      assert.equal(up.pulls(), 1);
      assert.equal(job.body, null);
      for (let i = 0; i <= STEPS; i++) {
        release();
        await turns(20);
      }
      assert.equal(await done, "finished");
      assert.equal((await real.read(RUN, 0)).length, STEPS + 1);
    } finally {
      await real.close();
    }
  });

  it("reads on while writing when the service sends in bulk", async () => {
    const real = await openRun();
    try {
      const { store, appends, release } = heldAppends(real);
      const deps = pumpDeps(store, new Metrics());
      const up = upstream(20_000);
      const done = pump(deps, {
        runId: RUN,
        graph: "g",
        body: up.body,
        log: createLogger("silent"),
      });
      await turns(20);
      // The first write is held, yet every read was made: what they carried waits to be written.
      assert.equal(appends(), 1);
      assert.equal(up.pulls(), STEPS + 1);
      release();
      await turns(20);
      // The second write takes everything that piled up.
      assert.equal(appends(), 2);
      release();
      assert.equal(await done, "finished");
      assert.equal((await real.read(RUN, 0)).length, STEPS + 1);
    } finally {
      await real.close();
    }
  });

  it("holds the next read for deps.pace only when the last read found its bytes waiting", async () => {
    for (const waited of [false, true]) {
      const real = await openRun();
      try {
        const { store, appends, release } = heldAppends(real);
        const deps = pumpDeps(store, new Metrics());
        // A clock that stands still (every read finds its bytes waiting) or moves 10 ms a look
        // (every read waited for them).
        let t = 0;
        deps.clock = () => waited ? t += 10 : t;
        let paces = 0;
        let pause = Promise.withResolvers<void>();
        deps.pace = () => {
          paces++;
          return pause.promise;
        };
        const up = upstream();
        const done = pump(deps, {
          runId: RUN,
          graph: "g",
          body: up.body,
          log: createLogger("silent"),
        });
        await turns(20);
        assert.equal(up.pulls(), 1);
        release();
        await turns(20);
        if (waited) {
          // Its reads wait for data: never held, the next read follows the write at once.
          assert.equal(paces, 0);
          assert.equal(up.pulls(), 2);
          assert.equal(appends(), 2);
        } else {
          assert.equal(appends(), 1);
          // Bytes were waiting: the next read waits for the pause, then goes.
          assert.equal(paces, 1);
          assert.equal(up.pulls(), 1, "no read before the pause ends");
          pause.resolve();
          pause = Promise.withResolvers<void>();
          await turns(20);
          assert.equal(up.pulls(), 2);
        }
        let finished = false;
        done.then(() => finished = true, () => finished = true);
        while (!finished) {
          release();
          pause.resolve();
          pause = Promise.withResolvers<void>();
          await turns(2);
        }
        assert.equal(await done, "finished");
        assert.equal((await real.read(RUN, 0)).length, STEPS + 1);
        if (waited) assert.equal(paces, 0);
        else assert.ok(paces >= STEPS, `paced before every later read (${paces})`);
      } finally {
        await real.close();
      }
    }
  });
});
