/**
 * Starting runs: a burst of starts shares one `/graphs` call (it used to cost each start its own
 * call before its first byte), the shared answer still refuses an unknown graph, and every run of
 * the burst is created and relayed exactly once.
 */
import assert from "node:assert/strict";
import type { GraphInfo } from "../../lib/events.ts";
import { createLogger } from "../../lib/log.ts";
import { Metrics } from "../../lib/metrics.ts";
import { openKvRunStore } from "../../lib/runs/mod.ts";
import { GatewayError } from "../../lib/gateway/errors.ts";
import { Gateway } from "../../lib/gateway/relay.ts";
import type { Upstream } from "../../lib/gateway/upstream.ts";

const GRAPHS: GraphInfo[] = [{ name: "g", title: "G", domain: "test", description: "test" }];

function countingUpstream() {
  const counts = { graphs: 0, execute: 0 };
  const upstream: Upstream = {
    mode: "external",
    protocol: "execute",
    rejoin: () => Promise.resolve({ kind: "unsupported", reason: "test" }),
    isAfter: (a, b) => Number(a) > Number(b),
    execute(body) {
      counts.execute++;
      const text = `event: workflow_complete\ndata: ${
        JSON.stringify({ workflowId: body.thread_id, ts: 1, status: "complete", result: {} })
      }\n\n`;
      return Promise.resolve(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode(text));
            c.close();
          },
        }),
      );
    },
    abort: () => Promise.resolve(),
    health: () => Promise.resolve({ reachable: true, latency_ms: 0 }),
    async graphs() {
      counts.graphs++;
      // Answer a moment later, as a real service does, so the burst overlaps the call.
      await new Promise((r) => setTimeout(r, 20));
      return GRAPHS;
    },
  };
  return { upstream, counts };
}

Deno.test("a burst of starts shares one /graphs call and still refuses unknown graphs", async () => {
  const store = await openKvRunStore({ path: ":memory:", ttlHours: 1 });
  const up = countingUpstream();
  const gw = new Gateway({
    store,
    upstream: up.upstream,
    metrics: new Metrics(),
    logger: createLogger("error", () => {}),
  });
  try {
    const start = (runId: string, graph: string) =>
      gw.start({ runId, graph, initialState: {}, dialect: "workflow" });
    const results = await Promise.allSettled([
      ...Array.from({ length: 10 }, (_, i) => start(`r${i}`, "g")),
      start("other", "nope"),
    ]);
    assert.equal(up.counts.graphs, 1);
    assert.ok(results.slice(0, 10).every((r) => r.status === "fulfilled" && r.value.created));
    const refused = results[10];
    assert.ok(
      refused.status === "rejected" && refused.reason instanceof GatewayError &&
        refused.reason.type === "unknown_graph",
    );
    assert.equal(up.counts.execute, 10);
    await gw.drain();
    for (let i = 0; i < 10; i++) assert.equal((await store.get(`r${i}`))?.status, "complete");
  } finally {
    await gw.shutdown();
    await gw.drain();
    await store.close();
  }
});

Deno.test("a start reads nothing before its create, and a retry attaches even to a graph no longer listed", async () => {
  const store = await openKvRunStore({ path: ":memory:", ttlHours: 1 });
  const up = countingUpstream();
  let gets = 0;
  // The real store, its reads counted.
  const counted = new Proxy(store, {
    get(target, key) {
      if (key === "get") {
        return (id: string) => {
          gets++;
          return target.get(id);
        };
      }
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const clock = { t: Date.now() };
  const gw = new Gateway({
    store: counted,
    upstream: up.upstream,
    metrics: new Metrics(),
    logger: createLogger("error", () => {}),
    now: () => clock.t,
  });
  try {
    const input = { graph: "g", initialState: {}, dialect: "workflow" as const, runId: "r1" };
    const first = await gw.start(input);
    assert.equal(first.created, true);
    assert.equal(gets, 0, "a new run is created without a read first");
    await gw.drain();
    // The service stops listing the graph (seen once the cached list expires): a new run of it
    // is refused, a retry of r1 attaches to r1.
    GRAPHS.splice(0, GRAPHS.length, { name: "other", title: "O", domain: "test", description: "" });
    clock.t += 61_000;
    await assert.rejects(
      gw.start({ ...input, runId: "r2" }),
      (e) => e instanceof GatewayError && e.type === "unknown_graph",
    );
    const again = await gw.start(input);
    assert.equal(again.created, false);
    assert.equal(again.run.id, "r1");
    assert.equal(up.counts.execute, 1);
    assert.equal(up.counts.graphs, 2);
  } finally {
    GRAPHS.splice(0, GRAPHS.length, { name: "g", title: "G", domain: "test", description: "test" });
    await gw.shutdown();
    await gw.drain();
    await store.close();
  }
});
