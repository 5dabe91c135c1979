/**
 * `deno task bench`: the relay measured side by side with a direct connection (DESIGN §10).
 *
 * Three processes: the fake upstream (`fake_upstream.ts`), the real gateway (`main.ts`, KV on a
 * temp file, real config) and this one, the measuring client. "Direct" rounds read the fake's
 * `/execute` stream; "gateway" rounds `POST /agui` (workflow dialect) for the same plan. Rounds
 * alternate D G D G … and the table reports medians. Scenarios: S1 one stream at full speed,
 * S2 200 streams × 100 events/s, S3 50 streams × 20 events/s, and a hold of 2,000 idle streams
 * with heartbeats; then process start → first `/health` 200 and the JavaScript on `/`.
 *
 * Flags (defaults meet the issue): `--rounds=3 --s1-events=100000 --s2-streams=200
 * --s2-rate=100 --s2-seconds=5 --s3-streams=50 --s3-rate=20 --s3-seconds=5
 * --hold-streams=2000 --hold-seconds=5 --hold-heartbeat-ms=1000 --start-runs=5
 * --only=s1,s2,s3,hold,start,js`.
 * @module
 */
import { parseArgs } from "node:util";
import { readStream, type StreamResult } from "./client.ts";
import { BENCH_GRAPH, wallNow } from "./fake_upstream.ts";
import {
  type Child,
  cpuNs,
  cpuNsByThread,
  type GatewayChild,
  rssKb,
  spawnFake,
  spawnGateway,
} from "./proc.ts";
import { concat, median, percentile } from "./stats.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    "s1-events": { type: "string", default: "100000" },
    "s2-streams": { type: "string", default: "200" },
    "s2-rate": { type: "string", default: "100" },
    "s2-seconds": { type: "string", default: "5" },
    "s3-streams": { type: "string", default: "50" },
    "s3-rate": { type: "string", default: "20" },
    "s3-seconds": { type: "string", default: "5" },
    "hold-streams": { type: "string", default: "2000" },
    "hold-seconds": { type: "string", default: "5" },
    "hold-heartbeat-ms": { type: "string", default: "1000" },
    "start-runs": { type: "string", default: "5" },
    only: { type: "string", default: "s1,s2,s3,hold,start,js" },
    "kv-dir": { type: "string" },
    floor: { type: "string", default: "true" },
  },
});
const num = (name: keyof typeof flags) => Number(flags[name]);
const only = new Set(String(flags.only).split(","));
const ROUNDS = Math.max(1, num("rounds"));
/** Also measure the floor relay (`floor_relay.ts`): what Deno itself costs, for comparison. */
const FLOOR = flags.floor !== "false";

function log(msg: string): void {
  console.error(`[bench] ${msg}`);
}

/** One scenario's shape. */
interface Plan {
  streams: number;
  /** Step events per stream. */
  count: number;
  /** Events per second per stream; 0 = full speed. */
  rate: number;
}

/** The measures of one round. */
interface Round {
  events: number;
  throughput: number;
  p50: number;
  p99: number;
  lost: number;
  duplicated: number;
  malformed: number;
  errors: number;
  cpuUsPerEvent: number;
  peakRssKb: number;
}

let runCounter = 0;
/** BENCH_THREADS=1: log the gateway's CPU per thread after each gateway round. */
const THREADS = Deno.env.get("BENCH_THREADS") === "1";

function logThreads(before: Map<string, number>, after: Map<string, number>): void {
  const rows: string[] = [];
  for (const [name, ns] of after) {
    const d = (ns - (before.get(name) ?? 0)) / 1e6;
    if (d >= 1) rows.push(`${name} ${d.toFixed(0)} ms`);
  }
  log(`  gateway CPU by thread: ${rows.join(", ")}`);
}

/** Who a round's streams read: the fake directly, the gateway, or the floor relay. */
type Target = "direct" | "gateway" | "floor";

async function round(
  target: Target,
  plan: Plan,
  fake: Child,
  relay: GatewayChild,
): Promise<Round> {
  const gw = relay;
  // Paced streams start together a moment from now, phases spread over one interval.
  const lead = 300 + plan.streams * 2;
  const t0 = wallNow() + lead;
  const interval = plan.rate > 0 ? 1000 / plan.rate : 0;
  const cpu0 = cpuNs(gw.pid);
  const threads0 = THREADS ? cpuNsByThread(gw.pid) : undefined;
  let peak = rssKb(gw.pid);
  const sampler = setInterval(() => peak = Math.max(peak, rssKb(gw.pid)), 100);
  const tasks: Promise<StreamResult>[] = [];
  for (let i = 0; i < plan.streams; i++) {
    const id = `b${Date.now().toString(36)}-${runCounter++}`;
    const initial_state = {
      count: plan.count,
      rate: plan.rate,
      ...(plan.rate > 0 ? { startAt: t0 + (interval * i) / plan.streams } : {}),
    };
    const url = target === "direct" ? `${fake.url}/execute` : `${gw.url}/agui`;
    const body = target === "direct"
      ? { graph_name: BENCH_GRAPH, initial_state, thread_id: id }
      : { graph_name: BENCH_GRAPH, initial_state, run_id: id };
    tasks.push(readStream({ url, body, expected: plan.count }));
  }
  const results = await Promise.all(tasks);
  clearInterval(sampler);
  const cpu = cpuNs(gw.pid) - cpu0;
  if (threads0 && target !== "direct") logThreads(threads0, cpuNsByThread(gw.pid));
  const lat = concat(results.map((r) => r.latencies));
  const events = results.reduce((s, r) => s + r.received, 0);
  const start = plan.rate > 0
    ? Math.min(...results.filter((r) => r.received > 0).map((r) => r.firstSend))
    : Math.min(...results.map((r) => r.requested));
  const end = Math.max(...results.map((r) => r.lastRecv));
  const errors = results.filter((r) => r.error || !r.terminal);
  for (const r of errors.slice(0, 3)) log(`  stream error: ${r.error ?? "no terminal event"}`);
  return {
    events,
    throughput: events / ((end - start) / 1000),
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    lost: results.reduce((s, r) => s + r.lost, 0),
    duplicated: results.reduce((s, r) => s + r.duplicated, 0),
    malformed: results.reduce((s, r) => s + r.malformed, 0),
    errors: errors.length,
    // Frames per stream: the step events plus workflow_initialized and the terminal event.
    cpuUsPerEvent: target !== "direct" ? cpu / 1000 / (events + 2 * plan.streams) : NaN,
    peakRssKb: peak,
  };
}

/** Medians over a scenario's rounds, per target (`floor` only with `--floor`). */
interface Summary {
  direct: Round;
  gateway: Round;
  floor?: Round;
}

function summarize(rounds: Round[]): Round {
  const m = (k: keyof Round) => median(rounds.map((r) => r[k]));
  const sum = (k: keyof Round) => rounds.reduce((s, r) => s + r[k], 0);
  return {
    events: m("events"),
    throughput: m("throughput"),
    p50: m("p50"),
    p99: m("p99"),
    lost: sum("lost"),
    duplicated: sum("duplicated"),
    malformed: sum("malformed"),
    errors: sum("errors"),
    cpuUsPerEvent: m("cpuUsPerEvent"),
    peakRssKb: Math.max(...rounds.map((r) => r.peakRssKb)),
  };
}

function gatewayEnv(fake: Child, dir: string, extra: Record<string, string> = {}) {
  return {
    WORKFLOW_SERVICE_URL: fake.url,
    KV_PATH: `${dir}/runs-${runCounter++}.kv`,
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_MINUTE: "0",
    RATE_LIMIT_EVENTS_PER_MINUTE: "0",
    RATE_LIMIT_ACTIONS_PER_MINUTE: "0",
    MAX_STREAMS_PER_CLIENT: "0",
    ...extra,
  };
}

async function scenario(
  name: string,
  plan: Plan,
  warm: Plan,
  fake: Child,
  dir: string,
): Promise<Summary> {
  const gw = await spawnGateway(gatewayEnv(fake, dir));
  const floor = FLOOR ? await spawnGateway(gatewayEnv(fake, dir), FLOOR_ENTRY) : undefined;
  try {
    log(`${name}: warm-up`);
    await round("direct", warm, fake, gw);
    await round("gateway", warm, fake, gw);
    if (floor) await round("floor", warm, fake, floor);
    const d: Round[] = [];
    const g: Round[] = [];
    const fl: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      d.push(await round("direct", plan, fake, gw));
      g.push(await round("gateway", plan, fake, gw));
      if (floor) fl.push(await round("floor", plan, fake, floor));
      const [a, b] = [d[i], g[i]];
      log(
        `${name} round ${i + 1}: direct ${a.throughput.toFixed(0)} ev/s p50 ${a.p50.toFixed(2)} ` +
          `p99 ${a.p99.toFixed(2)} | gateway ${b.throughput.toFixed(0)} ev/s p50 ` +
          `${b.p50.toFixed(2)} p99 ${b.p99.toFixed(2)} cpu ${b.cpuUsPerEvent.toFixed(2)} µs/ev ` +
          (floor
            ? `| floor ${fl[i].throughput.toFixed(0)} ev/s p50 ${fl[i].p50.toFixed(2)} p99 ` +
              `${fl[i].p99.toFixed(2)} cpu ${fl[i].cpuUsPerEvent.toFixed(2)} µs/ev `
            : "") +
          `| lost ${a.lost + b.lost} dup ${a.duplicated + b.duplicated} bad ` +
          `${a.malformed + b.malformed} err ${a.errors + b.errors}`,
      );
    }
    return {
      direct: summarize(d),
      gateway: summarize(g),
      ...(floor ? { floor: summarize(fl) } : {}),
    };
  } finally {
    await gw.stop();
    await floor?.stop();
  }
}

/** The floor relay's entry point (see `floor_relay.ts`). */
const FLOOR_ENTRY = "bench/floor_relay.ts";

/** A table row comparing the floor relay with the direct connection, when it was measured. */
function floorRow(label: string, s: Summary): string[] {
  const fl = s.floor;
  if (!fl) return [];
  return [
    `| ${label} | floor: a bare Deno relay (no parsing, no log; \`floor_relay.ts\`) | ${
      f(fl.throughput / s.direct.throughput, 3)
    }× direct; added p50 / p99 ${f(fl.p50 - s.direct.p50)} / ${f(fl.p99 - s.direct.p99)} ms; ${
      f(fl.cpuUsPerEvent)
    } µs CPU per event | – | |`,
  ];
}

/** The hold: many idle streams with heartbeats, then one event each and the terminal one. */
interface HoldResult {
  streams: number;
  openMs: number;
  rssPerStreamKb: number;
  /** Growth of the V8 heap per stream (from the gateway's /metrics), the JS share of the RSS. */
  heapPerStreamKb: number;
  baseRssKb: number;
  heldRssKb: number;
  heartbeatsPerStream: number;
  cpuUsPerStreamSecond: number;
  lost: number;
  duplicated: number;
  malformed: number;
  errors: number;
}

/** The gateway's V8 heap in use, read from its `/metrics`. */
async function heapBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_heap_used_bytes (\d+)/m.exec(text)?.[1] ?? NaN);
}

async function hold(fake: Child, dir: string, entry = "main.ts"): Promise<HoldResult> {
  const n = num("hold-streams");
  const holdMs = num("hold-seconds") * 1000;
  const hb = num("hold-heartbeat-ms");
  const gw = await spawnGateway(gatewayEnv(fake, dir, { HEARTBEAT_MS: String(hb) }), entry);
  try {
    // Warm the code paths (one short run) so the baseline is the process at work, not cold.
    await round(
      entry === "main.ts" ? "gateway" : "floor",
      {
        streams: 10,
        count: 100,
        rate: 0,
      },
      fake,
      gw,
    );
    await new Promise((r) => setTimeout(r, 500));
    const base = rssKb(gw.pid);
    const heap0 = await heapBytes(gw.url);
    const t0 = performance.now();
    let opened = 0;
    let allOpen!: () => void;
    const openP = new Promise<void>((r) => allOpen = r);
    const tasks: Promise<StreamResult>[] = [];
    // Open in waves so the start storm stays a fair load (a browser fleet does not sync either).
    for (let i = 0; i < n; i++) {
      const id = `h${Date.now().toString(36)}-${runCounter++}`;
      tasks.push(readStream({
        url: `${gw.url}/agui`,
        body: {
          graph_name: BENCH_GRAPH,
          initial_state: { count: 1, rate: 1, startAt: wallNow() + 1e9 },
          run_id: id,
        },
        expected: 1,
        onOpen: () => {
          if (++opened === n) allOpen();
        },
      }));
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
    }
    await openP;
    const openMs = performance.now() - t0;
    log(`hold: ${n} streams open in ${openMs.toFixed(0)} ms; holding ${holdMs} ms`);
    const cpu0 = cpuNs(gw.pid);
    await new Promise((r) => setTimeout(r, holdMs));
    const cpu = cpuNs(gw.pid) - cpu0;
    const held = rssKb(gw.pid);
    const heapPerStreamKb = (await heapBytes(gw.url) - heap0) / 1024 / n;
    const res = await fetch(`${fake.url}/release?spread=1000`, { method: "POST" });
    await res.body?.cancel();
    const results = await Promise.all(tasks);
    const errors = results.filter((r) => r.error || !r.terminal);
    for (const r of errors.slice(0, 3)) log(`  stream error: ${r.error ?? "no terminal event"}`);
    return {
      streams: n,
      openMs,
      rssPerStreamKb: (held - base) / n,
      heapPerStreamKb,
      baseRssKb: base,
      heldRssKb: held,
      heartbeatsPerStream: results.reduce((s, r) => s + r.heartbeats, 0) / n,
      cpuUsPerStreamSecond: cpu / 1000 / n / (holdMs / 1000),
      lost: results.reduce((s, r) => s + r.lost, 0),
      duplicated: results.reduce((s, r) => s + r.duplicated, 0),
      malformed: results.reduce((s, r) => s + r.malformed, 0),
      errors: errors.length,
    };
  } finally {
    await gw.stop();
  }
}

async function startTimes(fake: Child, dir: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < num("start-runs"); i++) {
    const gw = await spawnGateway(gatewayEnv(fake, dir));
    out.push(gw.startMs);
    await gw.stop();
  }
  return out;
}

async function pageJs(fake: Child, dir: string): Promise<number> {
  const { measurePageJs } = await import("../scripts/js_budget.ts");
  const gw = await spawnGateway(gatewayEnv(fake, dir));
  try {
    return (await measurePageJs(gw.url, "/")).totalGzip;
  } finally {
    await gw.stop();
  }
}

// ---------------------------------------------------------------------------------------------

function f(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "–";
}

function mark(ok: boolean): string {
  return ok ? "✅" : "❌";
}

function integrity(s: Summary): string {
  const d = s.direct;
  const g = s.gateway;
  return `${g.lost} / ${g.duplicated} / ${g.malformed} (direct ${d.lost} / ${d.duplicated} / ` +
    `${d.malformed})`;
}

function clean(s: Summary): boolean {
  const g = s.gateway;
  return g.lost + g.duplicated + g.malformed + g.errors === 0;
}

async function loadAvg(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
}

async function machine(): Promise<string> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown CPU";
  return `${navigator.hardwareConcurrency} cores (${model}), Deno ${Deno.version.deno}, ` +
    `${Deno.build.os}/${Deno.build.arch}`;
}

async function main(): Promise<void> {
  // --kv-dir=/dev/shm shows what the disk's fsync per commit costs (the default is a temp dir).
  const dir = await Deno.makeTempDir({ prefix: "wfs-bench-", dir: flags["kv-dir"] });
  const loadBefore = await loadAvg();
  const fake = await spawnFake();
  const rows: string[] = [];
  const started = performance.now();
  try {
    if (only.has("s1")) {
      const events = num("s1-events");
      const s = await scenario(
        "S1",
        { streams: 1, count: events, rate: 0 },
        { streams: 1, count: 20_000, rate: 0 },
        fake,
        dir,
      );
      const ratio = s.gateway.throughput / s.direct.throughput;
      rows.push(
        `| S1 1 stream × ${events} events, full speed | throughput ${f(s.direct.throughput, 0)} → ${
          f(s.gateway.throughput, 0)
        } ev/s | **${f(ratio)}× direct** | ≥ 0.9× | ${mark(ratio >= 0.9)} |`,
        `| S1 | added latency p50 / p99 (queueing at full speed) | ${
          f(s.gateway.p50 - s.direct.p50)
        } / ${f(s.gateway.p99 - s.direct.p99)} ms | – | |`,
        `| S1 | gateway CPU per event | ${f(s.gateway.cpuUsPerEvent)} µs | – | |`,
        `| S1 | lost / dup / malformed | ${integrity(s)} | 0 | ${mark(clean(s))} |`,
        ...floorRow("S1", s),
      );
    }
    if (only.has("s2")) {
      const [streams, rate, secs] = [num("s2-streams"), num("s2-rate"), num("s2-seconds")];
      const plan = { streams, count: rate * secs, rate };
      const s = await scenario("S2", plan, { ...plan, count: rate }, fake, dir);
      const ratio = s.gateway.throughput / s.direct.throughput;
      const added50 = s.gateway.p50 - s.direct.p50;
      rows.push(
        `| S2 ${streams} streams × ${rate} ev/s, ${secs} s | throughput ${
          f(s.direct.throughput, 0)
        } → ${f(s.gateway.throughput, 0)} ev/s | **${f(ratio, 3)}× direct** | ≥ 0.98× | ${
          mark(ratio >= 0.98)
        } |`,
        `| S2 | added latency p50 / p99 | **${f(added50)}** / ${
          f(s.gateway.p99 - s.direct.p99)
        } ms (direct ${f(s.direct.p50)} / ${f(s.direct.p99)}) | p50 ≤ 5 ms | ${
          mark(added50 <= 5)
        } |`,
        `| S2 | gateway CPU per event | ${f(s.gateway.cpuUsPerEvent)} µs | – | |`,
        `| S2 | lost / dup / malformed | ${integrity(s)} | 0 | ${mark(clean(s))} |`,
        ...floorRow("S2", s),
      );
    }
    if (only.has("s3")) {
      const [streams, rate, secs] = [num("s3-streams"), num("s3-rate"), num("s3-seconds")];
      const plan = { streams, count: rate * secs, rate };
      const s = await scenario("S3", plan, { ...plan, count: rate }, fake, dir);
      const added99 = s.gateway.p99 - s.direct.p99;
      rows.push(
        `| S3 ${streams} streams × ${rate} ev/s, ${secs} s | added latency p50 / p99 | ${
          f(s.gateway.p50 - s.direct.p50)
        } / **${f(added99)}** ms (direct ${f(s.direct.p50)} / ${f(s.direct.p99)}) | p99 ≤ 2 ms | ${
          mark(added99 <= 2)
        } |`,
        `| S3 | throughput | ${f(s.gateway.throughput / s.direct.throughput, 3)}× direct | – | |`,
        `| S3 | gateway CPU per event | ${f(s.gateway.cpuUsPerEvent)} µs | – | |`,
        `| S3 | lost / dup / malformed | ${integrity(s)} | 0 | ${mark(clean(s))} |`,
        ...floorRow("S3", s),
      );
    }
    if (only.has("hold")) {
      log("hold: opening streams");
      const h = await hold(fake, dir);
      const hf = FLOOR ? await hold(fake, dir, FLOOR_ENTRY) : undefined;
      rows.push(
        `| Hold ${h.streams} idle streams, heartbeat ${
          num("hold-heartbeat-ms")
        } ms | RSS per stream | **${f(h.rssPerStreamKb, 1)} KB** (${f(h.baseRssKb / 1024, 0)} → ${
          f(h.heldRssKb / 1024, 0)
        } MB) | ≤ 20 KB | ${mark(h.rssPerStreamKb <= 20)} |`,
        `| Hold | V8 heap per stream (the JS share of the RSS) | ${
          f(h.heapPerStreamKb, 1)
        } KB | – | |`,
        `| Hold | heartbeats per stream; CPU per stream-second; open time | ${
          f(h.heartbeatsPerStream, 1)
        }; ${f(h.cpuUsPerStreamSecond)} µs; ${f(h.openMs, 0)} ms | – | |`,
        `| Hold | lost / dup / malformed / failed streams | ${h.lost} / ${h.duplicated} / ${h.malformed} / ${h.errors} | 0 | ${
          mark(h.lost + h.duplicated + h.malformed + h.errors === 0)
        } |`,
        ...(hf
          ? [
            `| Hold | floor: a bare Deno relay's RSS per stream (its V8 heap per stream) | ${
              f(hf.rssPerStreamKb, 1)
            } KB (${f(hf.heapPerStreamKb, 1)} KB) | – | |`,
          ]
          : []),
      );
    }
    if (only.has("start")) {
      const times = await startTimes(fake, dir);
      const m = median(times);
      rows.push(
        `| Start | process start → first /health 200 (median of ${times.length}) | **${
          f(m, 0)
        } ms** (${times.map((t) => t.toFixed(0)).join(", ")}) | ≤ 300 ms | ${mark(m <= 300)} |`,
      );
    }
    if (only.has("js")) {
      const bytes = await pageJs(fake, dir);
      rows.push(
        `| Console | all JavaScript on / (gzip) | **${f(bytes / 1024, 1)} KB** | ≤ 15 KB | ${
          mark(bytes <= 15 * 1024)
        } |`,
      );
    }
  } finally {
    await fake.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  console.log(
    [
      `Machine: ${await machine()}`,
      `Load average (1 min) before / after: ${loadBefore} / ${await loadAvg()} (other work on the box skews results)`,
      `Command: deno task bench ${Deno.args.join(" ")}`.trimEnd(),
      `Rounds: ${ROUNDS} per target, interleaved D G D G …; medians; took ${
        ((performance.now() - started) / 1000).toFixed(0)
      } s`,
      "",
      "| scenario | measure | result | goal | |",
      "|---|---|---|---|---|",
      ...rows,
    ].join("\n"),
  );
}

if (import.meta.main) await main();
