/**
 * Where the hold's RSS goes, by kind of mapping: opens `--streams` idle streams (the bench's hold:
 * waves of 100, a heartbeat every second) against the gateway or a floor started without the
 * inspector, and diffs `/proc/<pid>/smaps` before and 5 s after, per stream: `[heap]` is the C
 * heap (Rust's allocations: sockets, HTTP state, buffers), `[anon]` anonymous mappings (V8's heap
 * pages, thread stacks and other allocator arenas), `files` mapped files (the KV file's shared
 * memory among them). `--seconds` holds longer before the diff; `--every=S` also prints the total
 * every S seconds of the hold (the heap V8 gives back in its memory reducer's GC, ~25-30 s in).
 * With `BENCH_GATEWAY_FLAGS=--preload=bench/settle_gc.ts` the target collects once after the
 * burst, and the line it reports is printed with the diff. It also prints when every 100th
 * stream opened (ms after the target's spawn), which `young_gen.ts` lines up with V8's
 * `--trace-gc-nvp` lines from the target's stdout.
 *
 * `deno run -A bench/rss_where.ts [--streams=2000] [--entry=main.ts|bench/floor_relay.ts]
 * [--seconds=5] [--every=0]`
 * @module
 */
import { parseArgs } from "node:util";
import { readStream } from "./client.ts";
import { BENCH_GRAPH } from "./fake_upstream.ts";
import { spawnFake, spawnGateway } from "./proc.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    streams: { type: "string", default: "2000" },
    entry: { type: "string", default: "main.ts" },
    seconds: { type: "string", default: "5" },
    every: { type: "string", default: "0" },
  },
});
const N = Number(values.streams);
const ENTRY = values.entry;

/** Resident KB of process `pid` by mapping kind. */
function residentByKind(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let kind = "";
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      kind = head[1].startsWith("/") ? "files" : head[1] || "[anon]";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out.set(kind, (out.get(kind) ?? 0) + Number(rss[1]));
  }
  return out;
}

const dir = await Deno.makeTempDir({ prefix: "rss_where_" });
const fake = await spawnFake();
const spawnedAt = performance.now();
const gw = await spawnGateway({
  WORKFLOW_SERVICE_URL: fake.url,
  KV_PATH: `${dir}/runs.kv`,
  HEARTBEAT_MS: "1000",
  RATE_LIMIT_PER_MINUTE: "0",
  RATE_LIMIT_EVENTS_PER_MINUTE: "0",
  RATE_LIMIT_ACTIONS_PER_MINUTE: "0",
  MAX_STREAMS_PER_CLIENT: "0",
}, ENTRY);
try {
  const run = (id: string, state: Record<string, unknown>, expected: number, onOpen?: () => void) =>
    readStream({
      url: `${gw.url}/agui`,
      body: { graph_name: BENCH_GRAPH, initial_state: state, run_id: id },
      expected,
      onOpen,
    });
  // Warm the code paths first, as the hold does.
  await Promise.all(
    Array.from({ length: 10 }, (_, i) => run(`w${i}-${Date.now()}`, { count: 10, rate: 0 }, 10)),
  );
  await new Promise((r) => setTimeout(r, 500));
  const before = residentByKind(gw.pid);
  let opened = 0;
  let allOpen!: () => void;
  const open = new Promise<void>((r) => allOpen = r);
  const tasks = [];
  const opens = [Math.round(performance.now() - spawnedAt)];
  for (let i = 0; i < N; i++) {
    const state = { count: 1, rate: 1, startAt: Date.now() + 1e9 };
    tasks.push(run(`h${i}-${Date.now()}`, state, 1, () => {
      if (++opened % 100 === 0 || opened === N) {
        opens.push(Math.round(performance.now() - spawnedAt));
      }
      if (opened === N) allOpen();
    }));
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
  }
  await open;
  // The burst's clock, from the first request: `young_gen.ts` reads this line.
  console.log(`${ENTRY}: ${N} streams opened, every 100th at (ms after spawn): ${opens.join(",")}`);
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const every = Number(values.every);
  const trail: string[] = [];
  for (let s = 1; s <= Number(values.seconds); s++) {
    await new Promise((r) => setTimeout(r, 1_000));
    if (every > 0 && s % every === 0) {
      trail.push(`${s} s ${((total(residentByKind(gw.pid)) - total(before)) / N).toFixed(1)}`);
    }
  }
  if (trail.length) console.log(`${ENTRY}: KB per idle stream over the hold: ${trail.join(", ")}`);
  const after = residentByKind(gw.pid);
  let sum = 0;
  for (const kind of new Set([...before.keys(), ...after.keys()])) {
    const kb = ((after.get(kind) ?? 0) - (before.get(kind) ?? 0)) / N;
    sum += kb;
    if (Math.abs(kb) >= 0.1) console.log(`${ENTRY}: ${kind} ${kb.toFixed(1)} KB per idle stream`);
  }
  console.log(`${ENTRY}: total ${sum.toFixed(1)} KB per idle stream`);
  // What a preloaded experiment (`settle_gc.ts`) reported.
  for (const line of gw.stderrTail().split("\n")) {
    if (line.startsWith("settle_gc:")) console.log(`${ENTRY}: ${line}`);
  }
  const res = await fetch(`${fake.url}/release?spread=100`, { method: "POST" });
  await res.body?.cancel();
  await Promise.all(tasks);
} finally {
  await gw.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
