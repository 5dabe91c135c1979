/**
 * Takeover when the workflow service itself goes down, with real processes:
 * - the default one-command setup (no `WORKFLOW_SERVICE_URL`: the built-in service in each
 *   gateway's process), two gateways on one KV file, the relaying one killed with `kill -9`
 *   mid-step: the other claims each run and its own in-process service resumes it from the last
 *   checkpoint (a step cut by the crash runs again and says `retry: true`); every run completes,
 *   every step once;
 * - `deno task workflow` killed and restarted on the same address and KV file while the gateway
 *   stays up: the relay's upstream stream breaks, it rejoins (retrying until the service is
 *   back) and every run completes once.
 *
 * Bounded: 3 rounds × 3 runs (one-command setup: two kills, one SIGTERM) and 3 runs (service restart), short steps, a
 * deadline on every wait.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  assertCompleteOnce,
  assertMatchesService,
  followKilling,
  GRAPH_RUNS,
  seeded,
  startCluster,
  startRun,
} from "../fixtures/cluster.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("takeover with the workflow service going down", () => {
  it("default one-command setup: kill -9 (and SIGTERM) of the gateway mid-step; the other resumes every run from its checkpoint", async () => {
    const cluster = await startCluster({
      service: false,
      stepDelayMs: 250,
      leaseMs: 1000,
      sweepMs: 250,
    });
    try {
      await cluster.addGateway();
      await cluster.addGateway();
      // Two kills, then a graceful stop (its handover releases the threads first).
      const signals: Deno.Signal[] = ["SIGKILL", "SIGKILL", "SIGTERM"];
      for (let round = 0; round < signals.length; round++) {
        const [victim, survivor] = cluster.alive();
        const rand = seeded(0xb1 + round);
        const runIds = GRAPH_RUNS.map((r) => `builtin-${round}-${r.graph}`);
        await Promise.all(
          GRAPH_RUNS.map((r, i) => startRun(victim.url, runIds[i], r.graph, r.prompt)),
        );
        const urls = () => cluster.alive().map((g) => g.url);
        const { reads, target, killAfter, moment } = followKilling(urls, runIds, rand);
        await moment;
        await cluster.stop(victim, signals[round]);
        const settled = await Promise.allSettled(reads);
        for (let i = 0; i < runIds.length; i++) {
          const r = settled[i];
          if (r.status === "rejected") throw r.reason;
          try {
            assertCompleteOnce(runIds[i], r.value.frames);
          } catch (err) {
            // What both gateways said about the run, to tell why.
            for (const g of [victim, survivor]) {
              const lines = g.logs.filter((l) =>
                l.run_id === runIds[i] || l.thread_id === runIds[i]
              );
              console.error(g === victim ? "victim:" : "survivor:", JSON.stringify(lines));
            }
            throw err;
          }
          const s = (await (await fetch(`${survivor.url}/agui/runs/${runIds[i]}`)).json()).run;
          assert.equal(s.status, "complete");
        }
        const taken = survivor.logs.filter((l) =>
          l.msg === "run taken over" && runIds.includes(String(l.run_id))
        ).length;
        const retried = settled.flatMap((r) =>
          r.status === "fulfilled" ? r.value.frames : []
        )
          .filter((f) => f.event === "step_started" && JSON.parse(f.data).retry === true).length;
        assert.ok(taken > 0, "the survivor took runs over");
        console.log(
          `built-in round ${round}: ${signals[round]} at ${
            runIds[target]
          } event ${killAfter}; ${taken} ` +
            `run(s) taken over, ${retried} step(s) retried; all runs completed`,
        );
        await cluster.addGateway();
      }
    } finally {
      await cluster.close();
    }
  });

  it("`deno task workflow` killed and restarted while the gateway stays up: every run completes once", async () => {
    const cluster = await startCluster({ stepDelayMs: 250, leaseMs: 1000, sweepMs: 250 });
    try {
      const gw = await cluster.addGateway();
      const rand = seeded(0x5e4);
      const runIds = GRAPH_RUNS.map((r) => `svc-restart-${r.graph}`);
      await Promise.all(GRAPH_RUNS.map((r, i) => startRun(gw.url, runIds[i], r.graph, r.prompt)));
      const urls = () => [gw.url];
      const { reads, target, killAfter, moment } = followKilling(urls, runIds, rand);
      await moment;
      await cluster.stopService("SIGKILL");
      await sleep(500);
      // Same address, same KV file: the service finds its threads again.
      await cluster.startService();
      const settled = await Promise.allSettled(reads);
      for (let i = 0; i < runIds.length; i++) {
        const r = settled[i];
        if (r.status === "rejected") throw r.reason;
        assertCompleteOnce(runIds[i], r.value.frames);
        await assertMatchesService(cluster.service!.url, runIds[i], r.value.frames);
      }
      const rejoined = gw.logs.filter((l) => l.msg === "rejoined the workflow stream").length;
      assert.ok(rejoined > 0, "the relays rejoined the restarted service");
      console.log(
        `service restart: killed at ${runIds[target]} event ${killAfter}; ${rejoined} ` +
          "stream(s) rejoined; all runs completed",
      );
    } finally {
      await cluster.close();
    }
  });
});
