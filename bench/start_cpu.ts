/**
 * What a run's start costs a target's process: starts the fake upstream and a gateway (or the
 * floor relay), opens bursts of `--starts` idle streams at once (the hold's shape: one event,
 * then silence), and reads the target's CPU by thread from the first request of a burst until
 * every stream of it has its first byte (plus 300 ms for the last writes), per start; then ends
 * the burst's streams and lets the process settle before the next. Prints CPU per start by thread
 * and each burst's first-byte median. Two warm-up bursts are not counted.
 *
 * `deno run -A bench/start_cpu.ts [--starts=200] [--bursts=10] [--entry=main.ts|
 * bench/floor_relay.ts] [--root=<another checkout>/]`
 *
 * `--root` runs another checkout's entry (its own deno.json), for a before/after: alternate the
 * two a few times, the box's own speed moves by ±10 % between runs.
 * @module
 */
import { parseArgs } from "node:util";
import { readStream } from "./client.ts";
import { BENCH_GRAPH, wallNow } from "./fake_upstream.ts";
import { cpuNsByThread, spawnFake, spawnGateway } from "./proc.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    starts: { type: "string", default: "200" },
    bursts: { type: "string", default: "10" },
    entry: { type: "string", default: "main.ts" },
    root: { type: "string" },
  },
});
const N = Number(flags.starts);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const fake = await spawnFake();
const dir = await Deno.makeTempDir({ prefix: "start_cpu_" });
const gw = await spawnGateway(
  {
    WORKFLOW_SERVICE_URL: fake.url,
    KV_PATH: `${dir}/runs.kv`,
    RATE_LIMIT_PER_MINUTE: "0",
    RATE_LIMIT_EVENTS_PER_MINUTE: "0",
    RATE_LIMIT_ACTIONS_PER_MINUTE: "0",
    MAX_STREAMS_PER_CLIENT: "0",
  },
  flags.entry,
  flags.root,
);
let counter = 0;

/** One burst: CPU by thread while it opens, and its first-byte median (ms). */
async function burst(): Promise<{ cpu: Map<string, number>; ttfb: number }> {
  const ac = new AbortController();
  let opened = 0;
  let allOpen!: () => void;
  const open = new Promise<void>((r) => allOpen = r);
  const before = cpuNsByThread(gw.pid);
  const streams = Array.from({ length: N }, () =>
    readStream({
      url: `${gw.url}/agui`,
      body: {
        graph_name: BENCH_GRAPH,
        initial_state: { count: 1, rate: 1, startAt: wallNow() + 1e9 },
        run_id: `s${Date.now().toString(36)}-${counter++}`,
      },
      expected: 1,
      signal: ac.signal,
      onOpen: () => {
        if (++opened === N) allOpen();
      },
    }));
  await open;
  await sleep(300);
  const after = cpuNsByThread(gw.pid);
  ac.abort();
  const results = await Promise.all(streams);
  const failed = results.find((r) => r.error);
  if (failed) throw new Error(`a start failed: ${failed.error}`);
  const cpu = new Map<string, number>();
  for (const [thread, ns] of after) cpu.set(thread, ns - (before.get(thread) ?? 0));
  const ttfb = results.map((r) => r.firstByte - r.requested).sort((a, b) => a - b);
  await sleep(1500);
  return { cpu, ttfb: ttfb[ttfb.length >> 1] };
}

try {
  await burst();
  await burst();
  const total = new Map<string, number>();
  const ttfbs: number[] = [];
  const bursts = Number(flags.bursts);
  for (let b = 0; b < bursts; b++) {
    const { cpu, ttfb } = await burst();
    // Threads by name without their id: a respawned V8 worker adds to its kind.
    for (const [thread, ns] of cpu) {
      const kind = thread.replace(/#\d+$/, "");
      total.set(kind, (total.get(kind) ?? 0) + ns);
    }
    ttfbs.push(ttfb);
  }
  const per = (ns: number) => (ns / 1000 / (N * bursts)).toFixed(1);
  let all = 0;
  for (const [kind, ns] of total) {
    all += ns;
    if (ns / (N * bursts) >= 1000) console.log(`  ${kind}: ${per(ns)} µs per start`);
  }
  console.log(
    `${flags.root ?? ""}${flags.entry}, ${bursts} bursts of ${N} starts: ${
      per(all)
    } µs per start in all; first byte p50 by burst ${ttfbs.map((t) => t.toFixed(1)).join(" ")} ms`,
  );
} finally {
  await gw.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
