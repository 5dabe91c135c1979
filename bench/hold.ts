/**
 * The bench's hold: many idle streams against one target (the gateway, the floor relay, the
 * peer), its RSS read 5 s after the last stream opened and again once held, then one event each
 * and the terminal one. Used by `main.ts`; see docs/performance.md ("Method").
 * @module
 */
import { readStream, type StreamResult } from "./client.ts";
import { BENCH_GRAPH, wallNow } from "./fake_upstream.ts";
import { cpuNs, rssKb } from "./proc.ts";
import { median } from "./stats.ts";
import { f, mark } from "./table.ts";

/** A target the hold runs against: where it listens and the processes its memory is. */
export interface HoldTarget {
  /** Base URL (`http://127.0.0.1:<port>`); the streams POST to its `/agui`. */
  url: string;
  /** Processes whose RSS and CPU are counted (the peer's Node process and its Redis). */
  pids: number[];
  /** Ends a target started for the hold (none for a long-lived one). */
  stop?: () => Promise<void>;
}

/** What a hold opens, how long it holds, and the hooks it needs from the bench. */
export interface HoldOptions {
  /** Idle streams to open (in waves of 100, 20 ms apart). */
  streams: number;
  /** ms after the last stream opened at which RSS, heap and CPU are read first. */
  holdMs: number;
  /** Seconds after the last stream opened until the held reading ends (0: no held reading). */
  settleS: number;
  /** The heartbeat period of the targets that send heartbeats (for the table's label). */
  heartbeatMs: number;
  /** Starts the target (or hands over a running one). */
  open: () => Promise<HoldTarget>;
  /** Runs a short warm-up through the target. */
  warm: (t: HoldTarget) => Promise<unknown>;
  /** A fresh run id. */
  runId: () => string;
  /** Tells the fake upstream to send every held stream its event and end. */
  release: () => Promise<void>;
  /** Progress lines. */
  log: (msg: string) => void;
}

/** What one hold measured. */
export interface HoldResult {
  /** Idle streams opened. */
  streams: number;
  /** ms from the first stream's request until every stream had its response headers. */
  openMs: number;
  /** RSS growth per stream (KiB) from the baseline to `holdMs` after the last stream opened. */
  rssPerStreamKb: number;
  /**
   * RSS per stream once held: the median of one sample a second over the last
   * `SETTLE_WINDOW_S` of `settleS` (NaN when that is not past `holdMs`).
   */
  settledRssPerStreamKb: number;
  /** Growth of the V8 heap per stream (from the gateway's /metrics), the JS share of the RSS. */
  heapPerStreamKb: number;
  /** RSS (KiB) of the target's processes after the warm-up, before the first stream opened. */
  baseRssKb: number;
  /** RSS (KiB) of the target's processes `holdMs` after the last stream opened. */
  heldRssKb: number;
  /** Heartbeat comments received per stream, on average, over the whole stream. */
  heartbeatsPerStream: number;
  /** CPU time (µs) of the target's processes per stream per second of the `holdMs` window. */
  cpuUsPerStreamSecond: number;
  /** Step events lost, summed over all streams. */
  lost: number;
  /** Duplicates (as `StreamResult` counts them), summed over all streams. */
  duplicated: number;
  /** Malformed frames, summed over all streams. */
  malformed: number;
  /** Streams that failed or ended without their terminal event. */
  errors: number;
}

/**
 * The held reading's window: V8 keeps the heap it grew to during the opening burst until its
 * memory reducer runs a compacting GC once allocation is low, ~25-40 s after the burst here.
 */
export const SETTLE_WINDOW_S = 30;

/** The target's V8 heap in use, read from its `/metrics` (NaN for a target without). */
async function heapBytes(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  return res.ok ? Number(/^process_heap_used_bytes (\d+)/m.exec(text)?.[1] ?? NaN) : NaN;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Opens the target, opens `o.streams` idle streams, reads its memory and CPU, ends them. */
export async function hold(o: HoldOptions): Promise<HoldResult> {
  const n = o.streams;
  const gw = await o.open();
  const rss = () => sum(gw.pids.map(rssKb));
  const cpuNow = () => sum(gw.pids.map(cpuNs));
  try {
    // Warm the code paths (one short run) so the baseline is the process at work, not cold.
    await o.warm(gw);
    await sleep(500);
    const base = rss();
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
    const cpu0 = cpuNow();
    await sleep(o.holdMs);
    const cpu = cpuNow() - cpu0;
    const held = rss();
    const heapPerStreamKb = (await heapBytes(gw.url) - heap0) / 1024 / n;
    const samples: number[] = [];
    for (let s = o.holdMs / 1000 + 1; s <= o.settleS; s++) {
      await sleep(t0 + openMs + s * 1000 - performance.now());
      if (s > o.settleS - SETTLE_WINDOW_S) samples.push(rss());
    }
    if (samples.length) {
      o.log(`hold: held RSS ${samples.map((kb) => ((kb - base) / n).toFixed(1)).join(" ")}`);
    }
    await o.release();
    const results = await Promise.all(tasks);
    const errors = results.filter((r) => r.error || !r.terminal);
    for (const r of errors.slice(0, 3)) o.log(`  stream error: ${r.error ?? "no terminal event"}`);
    const total = (k: "heartbeats" | "lost" | "duplicated" | "malformed") =>
      sum(results.map((r) => r[k]));
    return {
      streams: n,
      openMs,
      rssPerStreamKb: (held - base) / n,
      settledRssPerStreamKb: samples.length ? (median(samples) - base) / n : NaN,
      heapPerStreamKb,
      baseRssKb: base,
      heldRssKb: held,
      heartbeatsPerStream: total("heartbeats") / n,
      cpuUsPerStreamSecond: cpu / 1000 / n / (o.holdMs / 1000),
      lost: total("lost"),
      duplicated: total("duplicated"),
      malformed: total("malformed"),
      errors: errors.length,
    };
  } finally {
    await gw.stop?.();
  }
}

/** The holds of one run, by target (each absent when not measured). */
export interface Holds {
  /** This gateway's hold (always measured). */
  gateway: HoldResult;
  /** The floor relay's (bare Deno relay) hold. */
  floor?: HoldResult;
  /** The peer's (`resumable-stream` on Redis) hold. */
  peer?: HoldResult;
  /** The gateway and the floor again, V8's young generation capped at `youngMb` MB. */
  capped?: { youngMb: number; gateway: HoldResult; floor?: HoldResult };
  /**
   * The gateway and the floor again at fewer streams (`--hold-small-streams`), read 5 s after
   * the burst only: where V8's young generation, a cost of the process, has reached its
   * maximum in the gateway and not yet in the floor. The durable floor too: what its durable
   * start (a KV commit of the run's record before the upstream call) adds to the floor's.
   */
  small?: { gateway: HoldResult; floor?: HoldResult; durable?: HoldResult };
}

/** The table's rows for the holds of one run: the gateway beside the peer and the floor. */
export function holdRows(h: Holds, o: HoldOptions): string[] {
  const g = h.gateway;
  const cell = (r: HoldResult | undefined, text: (r: HoldResult) => string) => r ? text(r) : "–";
  const cells = (text: (r: HoldResult) => string, bold = false) =>
    `n/a | n/a | ${cell(h.peer, text)} | ${cell(h.floor, text)} | n/a | ${
      bold ? `**${text(g)}**` : text(g)
    }`;
  const label =
    `Hold ${g.streams} idle streams, heartbeat ${o.heartbeatMs} ms (none from the peer)`;
  const rss = (when: string, pick: (r: HoldResult) => number) =>
    `| ${label} | RSS per idle stream, ${when} (KB) | ${cells((r) => f(pick(r), 1), true)} | ` +
    `≤ floor + 20 KB | ${mark(h.floor && pick(g) <= pick(h.floor) + 20)} |`;
  const after = `${o.holdMs / 1000} s after the opening burst`;
  const rows = [rss(after, (r) => r.rssPerStreamKb)];
  const c = h.capped;
  if (c) {
    const kb = (r: HoldResult | undefined) => r ? f(r.rssPerStreamKb, 1) : "–";
    rows.push(
      `| ${label} | RSS per idle stream, ${after}, V8's young generation capped at ${c.youngMb} ` +
        `MB (\`DENO_V8_FLAGS=--max-semi-space-size=${c.youngMb}\`, floor and gateway alike) ` +
        `(KB) | n/a | n/a | – | ${kb(c.floor)} | n/a | ${
          kb(c.gateway)
        } | the goal, read with both capped (not V8's defaults) | ${
          mark(c.floor && c.gateway.rssPerStreamKb <= c.floor.rssPerStreamKb + 20)
        } |`,
    );
  }
  const sm = h.small;
  if (sm) {
    const smallLabel = label.replace(`Hold ${g.streams} `, `Hold ${sm.gateway.streams} `);
    rows.push(
      `| ${smallLabel} | RSS per idle stream, ${after} (KB) | n/a | n/a | – | ${
        sm.floor ? f(sm.floor.rssPerStreamKb, 1) : "–"
      } | ${sm.durable ? f(sm.durable.rssPerStreamKb, 1) : "–"} | ${
        f(sm.gateway.rssPerStreamKb, 1)
      } | ≤ floor + 20 KB | ${
        mark(sm.floor && sm.gateway.rssPerStreamKb <= sm.floor.rssPerStreamKb + 20)
      } |`,
    );
  }
  if (!Number.isNaN(g.settledRssPerStreamKb)) {
    const from = Math.max(o.settleS - SETTLE_WINDOW_S, o.holdMs / 1000);
    rows.push(rss(`held (median of ${from}-${o.settleS} s)`, (r) => r.settledRssPerStreamKb));
  }
  const failed = (r: HoldResult) => r.lost + r.duplicated + r.malformed + r.errors;
  rows.push(
    `| ${label} | V8 heap per stream (KB) | ${cells((r) => f(r.heapPerStreamKb, 1))} | – | |`,
    `| ${label} | heartbeats per stream; CPU per stream-second; open time | ${
      cells((r) =>
        `${f(r.heartbeatsPerStream, 1)}; ${f(r.cpuUsPerStreamSecond)} µs; ${f(r.openMs, 0)} ms`
      )
    } | – | |`,
    `| ${label} | lost / dup / malformed / failed | ${
      cells((r) => `${r.lost} / ${r.duplicated} / ${r.malformed} / ${r.errors}`)
    } | 0 | ${mark(failed(g) === 0)} |`,
  );
  return rows;
}
