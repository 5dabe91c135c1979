/**
 * The bench's hold: many idle streams with heartbeats against one target (the gateway or the
 * floor relay), its RSS read 5 s after the last stream opened and again once held, then one
 * event each and the terminal one. Used by `main.ts`; see docs/performance.md ("Method").
 * @module
 */
import { readStream, type StreamResult } from "./client.ts";
import { BENCH_GRAPH, wallNow } from "./fake_upstream.ts";
import { cpuNs, type GatewayChild, rssKb, spawnGateway } from "./proc.ts";
import { median } from "./stats.ts";
import { f, mark } from "./table.ts";

/** What a hold opens, how long it holds, and the hooks it needs from the bench. */
export interface HoldOptions {
  /** Idle streams to open (in waves of 100, 20 ms apart). */
  streams: number;
  /** ms after the last stream opened at which RSS, heap and CPU are read first. */
  holdMs: number;
  /** Seconds after the last stream opened until the held reading ends (0: no held reading). */
  settleS: number;
  /** The target's heartbeat period. */
  heartbeatMs: number;
  /** The target's environment (its KV file, the upstream, no rate limits). */
  env: () => Record<string, string>;
  /** `main.ts` (the gateway) or the floor relay's entry. */
  entry: string;
  /** Runs a short warm-up through the started target. */
  warm: (gw: GatewayChild) => Promise<unknown>;
  /** A fresh run id. */
  runId: () => string;
  /** Tells the fake upstream to send every held stream its event and end. */
  release: () => Promise<void>;
  /** Progress lines. */
  log: (msg: string) => void;
}

/** What one hold measured. */
export interface HoldResult {
  streams: number;
  openMs: number;
  rssPerStreamKb: number;
  /**
   * RSS per stream once held: the median of one sample a second over the last
   * `SETTLE_WINDOW_S` of `settleS` (NaN when that is not past `holdMs`).
   */
  settledRssPerStreamKb: number;
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

/**
 * The held reading's window: V8 keeps the heap it grew to during the opening burst until its
 * memory reducer runs a compacting GC once allocation is low, ~25-40 s after the burst here.
 */
export const SETTLE_WINDOW_S = 30;

/** The target's V8 heap in use, read from its `/metrics`. */
async function heapBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_heap_used_bytes (\d+)/m.exec(text)?.[1] ?? NaN);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Starts the target, opens `o.streams` idle streams, reads its memory and CPU, ends them. */
export async function hold(o: HoldOptions): Promise<HoldResult> {
  const n = o.streams;
  const env = { ...o.env(), HEARTBEAT_MS: String(o.heartbeatMs) };
  const gw = await spawnGateway(env, o.entry);
  try {
    // Warm the code paths (one short run) so the baseline is the process at work, not cold.
    await o.warm(gw);
    await sleep(500);
    const base = rssKb(gw.pid);
    const heap0 = await heapBytes(gw.url);
    const t0 = performance.now();
    let opened = 0;
    let allOpen!: () => void;
    const openP = new Promise<void>((r) => allOpen = r);
    const tasks: Promise<StreamResult>[] = [];
    // Open in waves so the start storm stays a fair load (a browser fleet does not sync either).
    for (let i = 0; i < n; i++) {
      tasks.push(readStream({
        url: `${gw.url}/agui`,
        body: {
          graph_name: BENCH_GRAPH,
          initial_state: { count: 1, rate: 1, startAt: wallNow() + 1e9 },
          run_id: o.runId(),
        },
        expected: 1,
        onOpen: () => {
          if (++opened === n) allOpen();
        },
      }));
      if (i % 100 === 99) await sleep(20);
    }
    await openP;
    const openMs = performance.now() - t0;
    o.log(`hold: ${n} streams open in ${openMs.toFixed(0)} ms; holding ${o.holdMs} ms`);
    const cpu0 = cpuNs(gw.pid);
    await sleep(o.holdMs);
    const cpu = cpuNs(gw.pid) - cpu0;
    const held = rssKb(gw.pid);
    const heapPerStreamKb = (await heapBytes(gw.url) - heap0) / 1024 / n;
    const samples: number[] = [];
    for (let s = o.holdMs / 1000 + 1; s <= o.settleS; s++) {
      await sleep(t0 + openMs + s * 1000 - performance.now());
      if (s > o.settleS - SETTLE_WINDOW_S) samples.push(rssKb(gw.pid));
    }
    if (samples.length) {
      o.log(`hold: held RSS ${samples.map((kb) => ((kb - base) / n).toFixed(1)).join(" ")}`);
    }
    await o.release();
    const results = await Promise.all(tasks);
    const errors = results.filter((r) => r.error || !r.terminal);
    for (const r of errors.slice(0, 3)) o.log(`  stream error: ${r.error ?? "no terminal event"}`);
    const sum = (k: "heartbeats" | "lost" | "duplicated" | "malformed") =>
      results.reduce((s, r) => s + r[k], 0);
    return {
      streams: n,
      openMs,
      rssPerStreamKb: (held - base) / n,
      settledRssPerStreamKb: samples.length ? (median(samples) - base) / n : NaN,
      heapPerStreamKb,
      baseRssKb: base,
      heldRssKb: held,
      heartbeatsPerStream: sum("heartbeats") / n,
      cpuUsPerStreamSecond: cpu / 1000 / n / (o.holdMs / 1000),
      lost: sum("lost"),
      duplicated: sum("duplicated"),
      malformed: sum("malformed"),
      errors: errors.length,
    };
  } finally {
    await gw.stop();
  }
}

/** The table's rows for the gateway's hold `h` beside the floor's `hf` (when measured). */
export function holdRows(h: HoldResult, hf: HoldResult | undefined, o: HoldOptions): string[] {
  const cells = (gw: string, fl: string) => `n/a | n/a | n/a | ${fl} | n/a | ${gw}`;
  const label = `Hold ${h.streams} idle streams, heartbeat ${o.heartbeatMs} ms`;
  const rss = (when: string, g: number, fl: number | undefined) =>
    `| ${label} | RSS per idle stream, ${when} (KB) | ${
      cells(`**${f(g, 1)}**`, fl === undefined ? "–" : f(fl, 1))
    } | ≤ floor + 20 KB | ${mark(fl === undefined ? undefined : g <= fl + 20)} |`;
  const rows = [
    rss(`${o.holdMs / 1000} s after the opening burst`, h.rssPerStreamKb, hf?.rssPerStreamKb),
  ];
  if (!Number.isNaN(h.settledRssPerStreamKb)) {
    const from = Math.max(o.settleS - SETTLE_WINDOW_S, o.holdMs / 1000);
    rows.push(
      rss(
        `held (median of ${from}-${o.settleS} s)`,
        h.settledRssPerStreamKb,
        hf?.settledRssPerStreamKb,
      ),
    );
  }
  rows.push(
    `| ${label} | V8 heap per stream (KB) | ${
      cells(f(h.heapPerStreamKb, 1), hf ? f(hf.heapPerStreamKb, 1) : "–")
    } | – | |`,
    `| ${label} | heartbeats per stream; CPU per stream-second; open time | ${
      cells(
        `${f(h.heartbeatsPerStream, 1)}; ${f(h.cpuUsPerStreamSecond)} µs; ${f(h.openMs, 0)} ms`,
        "–",
      )
    } | – | |`,
    `| ${label} | lost / dup / malformed / failed | ${
      cells(`${h.lost} / ${h.duplicated} / ${h.malformed} / ${h.errors}`, "–")
    } | 0 | ${mark(h.lost + h.duplicated + h.malformed + h.errors === 0)} |`,
  );
  return rows;
}
