/**
 * Takeover with real processes: `deno task workflow` as the upstream and gateway processes
 * (`main.ts`) sharing one KV file. The relaying gateway is killed (`kill -9`) at seeded random
 * moments and every run must complete on the other gateway with every event exactly once and in
 * order; a SIGTERM hands relays over without waiting for the lease (the handover time is
 * printed); a gateway restarted alone takes its own runs back at start, with nobody watching;
 * an upstream that forgot the thread ends the run with a truthful `relay_lost`.
 *
 * Bounded: 3 rounds × 3 runs with 80 ms steps; each wait has its own deadline.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  approve,
  assertCompleteOnce,
  assertMatchesService,
  type Cluster,
  followRun,
  GRAPH_RUNS,
  seeded,
  startCluster,
  startRun,
} from "../fixtures/cluster.ts";
import type { GatewayProcess } from "../fixtures/process.ts";
import type { SseFrame } from "../../lib/sse/parse.ts";
import { poll } from "../fixtures/within.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Gateway URLs a client would try: `first` while alive, then every other live one. */
function prefer(cluster: Cluster, first: GatewayProcess): () => string[] {
  return () => {
    const alive = cluster.alive();
    return [...alive.filter((g) => g === first), ...alive.filter((g) => g !== first)].map((g) =>
      g.url
    );
  };
}

/** Follows a run to its end, approving its gate through `urls()` when it asks. */
function drive(urls: () => string[], runId: string, timeoutMs = 40_000) {
  return followRun(urls, runId, async (f: SseFrame) => {
    if (f.event === "approval_required") {
      await approve(urls, runId, String(JSON.parse(f.data).stepId));
    }
  }, timeoutMs);
}

/** The whole log of a run as a fresh client on `url` reads it. */
async function fullLog(url: string, runId: string): Promise<SseFrame[]> {
  return (await followRun(() => [url], runId, undefined, 15_000)).frames;
}

/** Waits for every promise, then throws the first failure (none is left running). */
async function settleAll<T>(ps: Promise<T>[]): Promise<T[]> {
  const out = await Promise.allSettled(ps);
  const failed = out.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return out.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Waits until `gw` logged a line passing `test`; returns when (performance.now()). */
function logged(
  gw: GatewayProcess,
  test: (line: Record<string, unknown>) => boolean,
  timeoutMs: number,
): Promise<number | undefined> {
  return poll(() => gw.logs.some(test) && performance.now(), Math.ceil(timeoutMs / 5), 5);
}

async function summary(url: string, runId: string) {
  return (await (await fetch(`${url}/agui/runs/${runId}`)).json()).run;
}

describe("takeover: gateways on one KV file in front of `deno task workflow`", () => {
  it("kill -9 of the relaying gateway at seeded moments: every run completes once, in order", async () => {
    const cluster = await startCluster({ stepDelayMs: 80, leaseMs: 1000, sweepMs: 250 });
    try {
      await cluster.addGateway();
      await cluster.addGateway();
      let takeovers = 0;
      for (let round = 0; round < 3; round++) {
        const rand = seeded(0x5eed + round);
        const [victim, survivor] = cluster.alive();
        const runIds = GRAPH_RUNS.map((r) => `kill9-${round}-${r.graph}`);
        await Promise.all(
          GRAPH_RUNS.map((r, i) => startRun(victim.url, runIds[i], r.graph, r.prompt)),
        );
        // Clients watch on the victim (it relays) and approve there while it lives. The kill
        // comes when one seeded run's client has seen a seeded number of events: a moment in
        // the run's progress, not on a clock a loaded machine would skew.
        const target = Math.floor(rand() * runIds.length);
        const killAfter = 2 + Math.floor(rand() * 11);
        const killNow = Promise.withResolvers<void>();
        const reads = runIds.map((id, i) => {
          let seen = 0;
          const urls = prefer(cluster, victim);
          return followRun(urls, id, async (f) => {
            if (i === target && ++seen === killAfter) killNow.resolve();
            if (f.event === "approval_required") {
              await approve(urls, id, String(JSON.parse(f.data).stepId));
            }
          }, 40_000);
        });
        await Promise.race([killNow.promise, sleep(20_000)]);
        await cluster.stop(victim, "SIGKILL");
        const killAt = `${runIds[target]} event ${killAfter}`;
        const done = await settleAll(reads);
        for (let i = 0; i < runIds.length; i++) {
          const log = await fullLog(survivor.url, runIds[i]);
          assert.deepEqual(log, done[i].frames, "the client saw exactly the log");
          assertCompleteOnce(runIds[i], log);
          await assertMatchesService(cluster.service!.url, runIds[i], log);
          assert.equal((await summary(survivor.url, runIds[i])).status, "complete");
        }
        const taken = survivor.logs.filter((l) =>
          l.msg === "run taken over" && runIds.includes(String(l.run_id))
        ).length;
        takeovers += taken;
        console.log(
          `round ${round}: victim killed at ${killAt}; ${taken} run(s) taken over; ` +
            "every run completed once",
        );
        // A fresh second gateway for the next round.
        await cluster.addGateway();
      }
      assert.ok(takeovers > 0, "the kills cut runs that were being relayed");
    } finally {
      await cluster.close();
    }
  });

  it("SIGTERM hands the relay over at once, without waiting for the lease", async () => {
    // A 60 s lease: a handover that waited for it would blow the run's deadline.
    const cluster = await startCluster({ stepDelayMs: 400, leaseMs: 60_000, sweepMs: 250 });
    try {
      const leaving = await cluster.addGateway();
      const staying = await cluster.addGateway();
      const runId = "sigterm-hotel";
      await startRun(leaving.url, runId, "hotel_o2c", GRAPH_RUNS[0].prompt);
      const reading = drive(prefer(cluster, leaving), runId, 30_000);
      // Mid-run: the first step has been relayed.
      for (let i = 0; i < 300; i++) {
        if ((await summary(staying.url, runId)).eventCount >= 2) break;
        await sleep(20);
      }
      const t0 = performance.now();
      Deno.kill(leaving.pid, "SIGTERM");
      const claimedAt = await logged(
        staying,
        (l) => l.msg === "run taken over" && l.run_id === runId,
        20_000,
      );
      const status = await cluster.stop(leaving, "SIGTERM");
      assert.equal(status.code, 0, "a graceful stop exits 0");
      assert.ok(claimedAt !== undefined, "the other gateway took the run over");
      console.log(
        `handover: SIGTERM → run taken over by the other gateway in ${
          Math.round(claimedAt - t0)
        } ms (RELAY_SWEEP_MS=250, RELAY_LEASE_MS=60000)`,
      );
      const { frames } = await reading;
      assertCompleteOnce(runId, frames);
      await assertMatchesService(cluster.service!.url, runId, frames);
    } finally {
      await cluster.close();
    }
  });

  it("a gateway restarted alone takes its own runs back at start, with nobody watching", async () => {
    const cluster = await startCluster({ stepDelayMs: 150, leaseMs: 800, sweepMs: 200 });
    try {
      const first = await cluster.addGateway();
      const runIds = GRAPH_RUNS.map((r) => `restart-${r.graph}`);
      await Promise.all(
        GRAPH_RUNS.map((r, i) => startRun(first.url, runIds[i], r.graph, r.prompt)),
      );
      await sleep(250);
      await cluster.stop(first, "SIGKILL");
      const second = await cluster.addGateway();
      // Nobody subscribes: the restarted gateway must find and finish the runs by itself. Each
      // waits at its gate; the decision is sent once it says so.
      const until = Date.now() + 30_000;
      const pending = new Set(runIds);
      while (pending.size > 0 && Date.now() < until) {
        for (const id of [...pending]) {
          const s = await summary(second.url, id);
          if (s.status === "waiting_approval") {
            await approve(() => [second.url], id, s.pendingApproval.stepId);
          } else if (s.status !== "running") {
            pending.delete(id);
          }
        }
        await sleep(100);
      }
      assert.deepEqual([...pending], [], "every run finished without a client watching");
      for (const id of runIds) {
        const log = await fullLog(second.url, id);
        assertCompleteOnce(id, log);
        await assertMatchesService(cluster.service!.url, id, log);
      }
    } finally {
      await cluster.close();
    }
  });

  it("an upstream that forgot the thread: a truthful relay_lost, and the run is not stopped", async () => {
    const cluster = await startCluster({ stepDelayMs: 300, leaseMs: 800, sweepMs: 200 });
    try {
      const gw = await cluster.addGateway();
      const runId = "forgotten-po";
      await startRun(gw.url, runId, "purchase_order", GRAPH_RUNS[2].prompt);
      await sleep(400);
      // The service dies and comes back with an empty store: it no longer knows the thread.
      await cluster.stopService("SIGKILL");
      await cluster.startService(`${cluster.dir}/fresh-service.kv`);
      const { frames } = await followRun(() => [gw.url], runId, undefined, 30_000);
      const last = frames.at(-1)!;
      assert.equal(last.event, "workflow_error");
      const d = JSON.parse(last.data);
      assert.equal(d.code, "relay_lost");
      assert.match(d.message, /lost/i);
      assert.match(d.message, /may still be running/i);
      assert.deepEqual(frames.map((f) => Number(f.id)), frames.map((_, i) => i + 1));
    } finally {
      await cluster.close();
    }
  });
});
