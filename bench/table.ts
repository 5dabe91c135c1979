/**
 * The benchmark's one table: every target measured in the same run side by side (a direct
 * connection, nginx, `resumable-stream` on Redis, the bare Deno relay, the same relay committing
 * each read to Deno KV before it forwards it, and this gateway), and the
 * gateway's goals read against those figures, never against numbers from another run.
 * @module
 */

/** Who a round's streams read. */
export type Target =
  | "direct"
  | "nginx"
  | "peer"
  | "floor"
  | "durable"
  | "baseline"
  | "gateway";

/** The measures of one round (or the medians of a scenario's rounds). */
export interface Round {
  /** Step events received in all. */
  events: number;
  /** Step events per second over the round. */
  throughput: number;
  /** Median latency (ms) of the step events, send → receive. */
  p50: number;
  /** 99th percentile latency (ms) of the step events, send → receive. */
  p99: number;
  /** Median time (ms) from a stream's request to its first body byte. */
  ttfb: number;
  /** Step events expected but never received, summed over the streams (and rounds). */
  lost: number;
  /** Duplicates (as `StreamResult` counts them), summed over the streams (and rounds). */
  duplicated: number;
  /** Malformed frames, summed over the streams (and rounds). */
  malformed: number;
  /** Streams that failed or ended without their terminal event. */
  errors: number;
  /** CPU (µs) the target's processes spent per frame; NaN for direct. */
  cpuUsPerEvent: number;
  /** Highest RSS (KiB) of the target's main process, sampled every 100 ms; NaN for direct. */
  peakRssKb: number;
}

/** One scenario's medians per target. */
export type Summary = Map<Target, Round>;

/** A goal of the gateway's, read against the same run's figures. */
export interface Goal {
  /** What the goal says, e.g. "≤ peer and ≤ 2× floor". */
  text: string;
  /** Met, not met, or not measurable (a comparison target is missing). */
  met: boolean | undefined;
}

/** The goals a streaming scenario's rows can carry (each row without one shows "–"). */
export interface ScenarioGoals {
  /** On the throughput row. */
  throughput?: Goal;
  /** On the added latency row. */
  latency?: Goal;
  /** On the CPU per event row. */
  cpu?: Goal;
  /** On the time to first byte row. */
  ttfb?: Goal;
}

/** The columns, in order, with their headers. */
export const COLUMNS: readonly [Target, string][] = [
  ["direct", "direct"],
  ["nginx", "nginx (`proxy_buffering off`)"],
  ["peer", "resumable-stream + Redis"],
  ["floor", "floor (bare Deno relay)"],
  ["durable", "durable floor (commits before it forwards)"],
  ["gateway", "**this gateway**"],
];

/** A number with `digits` decimals, or "–". */
export function f(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "–";
}

/** A signed difference: "+1.20" or "-0.30". */
export function signed(x: number, digits = 2): string {
  return Number.isFinite(x) ? (x >= 0 ? "+" : "") + x.toFixed(digits) : "–";
}

/** ✅, ❌ or – (not measurable). */
export function mark(ok: boolean | undefined): string {
  return ok === undefined ? "–" : ok ? "✅" : "❌";
}

/** The table's header lines. */
export function header(): string[] {
  return [
    `| scenario | measure | ${COLUMNS.map(([, h]) => h).join(" | ")} | goal (gateway) | |`,
    `|---|---|${COLUMNS.map(() => "---").join("|")}|---|---|`,
  ];
}

/** One row: a measure for every target, then the gateway's goal. */
export function row(
  scenario: string,
  measure: string,
  s: Summary,
  cell: (r: Round, t: Target) => string,
  goal?: Goal,
): string {
  const cells = COLUMNS.map(([t]) => {
    const r = s.get(t);
    return r ? cell(r, t) : "n/a";
  });
  return `| ${scenario} | ${measure} | ${cells.join(" | ")} | ${goal?.text ?? "–"} | ${
    goal ? mark(goal.met) : ""
  } |`;
}

/** Added latency over the direct connection at percentile `k`. */
export function added(s: Summary, t: Target, k: "p50" | "p99"): number {
  const r = s.get(t);
  const d = s.get("direct");
  return r && d ? r[k] - d[k] : NaN;
}

/** `a ≤ b`, or undefined when either is not a number. */
export function atMost(a: number, b: number): boolean | undefined {
  return Number.isFinite(a) && Number.isFinite(b) ? a <= b : undefined;
}

/** Both parts of a goal: undefined if any is unknown and none failed. */
export function all(...parts: (boolean | undefined)[]): boolean | undefined {
  if (parts.some((p) => p === false)) return false;
  return parts.some((p) => p === undefined) ? undefined : true;
}

/** The rows every streaming scenario reports, with the gateway's goals for it. */
export function scenarioRows(
  label: string,
  s: Summary,
  goals: ScenarioGoals,
): string[] {
  const d = s.get("direct")!;
  return [
    row(
      label,
      "throughput (× direct)",
      s,
      (r) => `${f(r.throughput, 0)} ev/s (${f(r.throughput / d.throughput, 3)}×)`,
      goals.throughput,
    ),
    row(
      label,
      "added latency p50 / p99 (ms)",
      s,
      (r, t) =>
        t === "direct"
          ? `${f(r.p50)} / ${f(r.p99)} (base)`
          : `${signed(added(s, t, "p50"))} / ${signed(added(s, t, "p99"))}`,
      goals.latency,
    ),
    row(label, "CPU per event (µs)", s, (r) => f(r.cpuUsPerEvent, 1), goals.cpu),
    row(label, "time to first byte p50 (ms)", s, (r) => f(r.ttfb, 1), goals.ttfb),
    row(
      label,
      "lost / dup / malformed / failed",
      s,
      (r) => `${r.lost} / ${r.duplicated} / ${r.malformed} / ${r.errors}`,
      {
        text: "0",
        met: (() => {
          const g = s.get("gateway")!;
          return g.lost + g.duplicated + g.malformed + g.errors === 0;
        })(),
      },
    ),
  ];
}
