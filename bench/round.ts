/**
 * One round of the bench: a plan's streams through one target at once, and what the round
 * measured (throughput, latency, CPU, memory, failures); the medians of a scenario's rounds.
 * With `BENCH_THREADS=1` each round also logs a Deno target's CPU per thread and the gateway's
 * KV commits per event.
 * @module
 */
import { readStream, type StreamResult } from "./client.ts";
import { BENCH_GRAPH, wallNow } from "./fake_upstream.ts";
import { cpuNs, cpuNsByThread, ioOf, rssKb } from "./proc.ts";
import { concat, median, percentile } from "./stats.ts";
import type { Round, Target } from "./table.ts";

/** A progress line, on stderr (stdout carries the report). */
export function log(msg: string): void {
  console.error(`[bench] ${msg}`);
}

let runCounter = 0;

/** A number no other run id or KV file of this bench process has used. */
export function nextRun(): number {
  return runCounter++;
}

/** One scenario's shape. */
export interface Plan {
  /** Streams opened at once. */
  streams: number;
  /** Step events per stream. */
  count: number;
  /** Events per second per stream; 0 = full speed. */
  rate: number;
}

/** Where a target listens and which processes do its work (for CPU and memory). */
export interface Endpoint {
  /** Which column the round is charged to. */
  target: Target;
  /** Base URL of the target. */
  url: string;
  /** The processes whose CPU a round charges to this target (none for direct). */
  pids: () => number[];
  /** The process whose RSS is sampled. */
  rssPid?: number;
}

/**
 * BENCH_THREADS=1: log the CPU per thread of each Deno target after its rounds, and the
 * gateway's KV commits per event (from its `/metrics`).
 */
const THREADS = Deno.env.get("BENCH_THREADS") === "1";

function logThreads(who: string, before: Map<string, number>, after: Map<string, number>): void {
  const rows: string[] = [];
  for (const [name, ns] of after) {
    const d = (ns - (before.get(name) ?? 0)) / 1e6;
    if (d >= 1) rows.push(`${name} ${d.toFixed(0)} ms`);
  }
  log(`  ${who} CPU by thread: ${rows.join(", ")}`);
}

/** The gateway's own counters (from `/metrics`) that say where its time goes. */
async function gatewayCounters(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(workflow_[a-z_]+?)(\{[^}]*\})? ([0-9.e+-]+)$/gm)) {
    // Histogram buckets are kept by bound too (`name{le="0.002"}`), other labels are summed.
    const key = m[2]?.startsWith('{le="') ? m[1] + m[2] : m[1];
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

function logCounters(who: string, before: Map<string, number>, after: Map<string, number>): void {
  const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  const events = d("workflow_events_relayed_total");
  const appends = d("workflow_log_appends");
  const commits = d("workflow_log_commits");
  const reads = d("workflow_upstream_reads_total");
  const h = "workflow_relay_latency_seconds";
  const count = d(`${h}_count`);
  const lat = d(`${h}_sum`) / count;
  // Share of appends whose read → committed time passed 1 and 2 ms (the S3 p99 goal's scale).
  const over = (le: string) => (100 * (count - d(`${h}_bucket{le="${le}"}`)) / count).toFixed(2);
  log(
    `  ${who}: ${events} events in ${reads} upstream reads, ${appends} appends and ` +
      `${commits} KV commits ` +
      `(${(commits / events).toFixed(3)} commits per event, ${
        (appends / commits).toFixed(2)
      } appends per commit); upstream read → committed mean ${(lat * 1000).toFixed(3)} ms, ` +
      `over 1 ms ${over("0.001")} %, over 2 ms ${over("0.002")} %`,
  );
}

/**
 * The disk writes of a Deno target's round: with KV on a disk, what its commits and SQLite's
 * WAL checkpoints wrote, per event (the gateway's layout beside the durable floor's).
 */
function logWrites(
  who: string,
  before: { bytes: number; calls: number },
  after: { bytes: number; calls: number },
  results: StreamResult[],
): void {
  const events = results.reduce((s, r) => s + r.received, 0);
  const kb = (after.bytes - before.bytes) / 1024;
  log(
    `  ${who} wrote ${kb.toFixed(0)} KB to disk (${(kb * 1024 / events).toFixed(0)} B per ` +
      `event), ${after.calls - before.calls} write calls`,
  );
}

/** Sends `plan` through `ep` (all its streams at once) and measures the round. */
export async function round(ep: Endpoint, plan: Plan): Promise<Round> {
  // Paced streams start together a moment from now, phases spread over one interval.
  const lead = 300 + plan.streams * 2;
  const t0 = wallNow() + lead;
  const interval = plan.rate > 0 ? 1000 / plan.rate : 0;
  const pids = ep.pids();
  const cpuOf = () => pids.reduce((s, pid) => s + cpuNs(pid), 0);
  const gatewayLike = ep.target === "gateway" || ep.target === "baseline";
  const denoTarget = gatewayLike || ep.target === "floor" || ep.target === "durable";
  const threads0 = THREADS && denoTarget ? cpuNsByThread(pids[0]) : undefined;
  const io0 = threads0 ? ioOf(pids[0]) : undefined;
  const counters0 = THREADS && gatewayLike ? await gatewayCounters(ep.url) : undefined;
  const cpu0 = cpuOf();
  const rssPid = ep.rssPid;
  let peak = rssPid ? rssKb(rssPid) : NaN;
  const sampler = setInterval(() => {
    if (rssPid) peak = Math.max(peak, rssKb(rssPid));
  }, 100);
  const tasks: Promise<StreamResult>[] = [];
  const raw = ep.target === "direct" || ep.target === "nginx";
  for (let i = 0; i < plan.streams; i++) {
    const id = `b${Date.now().toString(36)}-${nextRun()}`;
    const initial_state = {
      count: plan.count,
      rate: plan.rate,
      ...(plan.rate > 0 ? { startAt: t0 + (interval * i) / plan.streams } : {}),
    };
    // Direct and nginx read the fake's /execute; the relays take the gateway's own body.
    const url = raw ? `${ep.url}/execute` : `${ep.url}/agui`;
    const body = raw
      ? { graph_name: BENCH_GRAPH, initial_state, thread_id: id }
      : { graph_name: BENCH_GRAPH, initial_state, run_id: id };
    tasks.push(readStream({ url, body, expected: plan.count }));
  }
  const results = await Promise.all(tasks);
  clearInterval(sampler);
  const cpu = cpuOf() - cpu0;
  if (threads0) logThreads(ep.target, threads0, cpuNsByThread(pids[0]));
  if (io0) logWrites(ep.target, io0, ioOf(pids[0]), results);
  if (counters0) logCounters(ep.target, counters0, await gatewayCounters(ep.url));
  const lat = concat(results.map((r) => r.latencies));
  const events = results.reduce((s, r) => s + r.received, 0);
  const start = plan.rate > 0
    ? Math.min(...results.filter((r) => r.received > 0).map((r) => r.firstSend))
    : Math.min(...results.map((r) => r.requested));
  const end = Math.max(...results.map((r) => r.lastRecv));
  const errors = results.filter((r) => r.error || !r.terminal);
  for (const r of errors.slice(0, 3)) {
    log(`  ${ep.target} stream error: ${r.error ?? "no terminal event"}`);
  }
  return {
    events,
    throughput: events / ((end - start) / 1000),
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    ttfb: median(results.map((r) => r.firstByte - r.requested).filter(Number.isFinite)),
    lost: results.reduce((s, r) => s + r.lost, 0),
    duplicated: results.reduce((s, r) => s + r.duplicated, 0),
    malformed: results.reduce((s, r) => s + r.malformed, 0),
    errors: errors.length,
    // Frames per stream: the step events plus workflow_initialized and the terminal event.
    cpuUsPerEvent: pids.length > 0 ? cpu / 1000 / (events + 2 * plan.streams) : NaN,
    peakRssKb: peak,
  };
}

/** A scenario's rounds of one target in one: medians, failures summed, the highest peak RSS. */
export function summarize(rounds: Round[]): Round {
  const m = (k: keyof Round) => median(rounds.map((r) => r[k]));
  const sum = (k: keyof Round) => rounds.reduce((s, r) => s + r[k], 0);
  return {
    events: m("events"),
    throughput: m("throughput"),
    p50: m("p50"),
    p99: m("p99"),
    ttfb: m("ttfb"),
    lost: sum("lost"),
    duplicated: sum("duplicated"),
    malformed: sum("malformed"),
    errors: sum("errors"),
    cpuUsPerEvent: m("cpuUsPerEvent"),
    peakRssKb: Math.max(...rounds.map((r) => r.peakRssKb)),
  };
}
