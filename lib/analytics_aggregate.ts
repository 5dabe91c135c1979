/**
 * The numbers of the history page, from run summaries already read: runs per graph and status,
 * success rate, duration percentiles, pending approvals and their age, recent failures and a time
 * series. Pure and in memory: the caller reads the runs (analytics.ts bounds that read) and
 * passes the clock, so every figure can be tested without a store.
 * @module
 */
import { RUN_STATUSES, type RunStatus } from "./event_names.ts";
import type { RunSummary } from "./events.ts";

/** Statuses of runs that ended. */
const FINISHED: ReadonlySet<RunStatus> = new Set(["complete", "rejected", "error", "aborted"]);
/** Ended as the workflow meant to: a rejection is a human decision, not a fault. */
const SUCCEEDED: ReadonlySet<RunStatus> = new Set(["complete", "rejected"]);
/** Ended by a fault or by someone stopping it. */
const FAILED: ReadonlySet<RunStatus> = new Set(["error", "aborted"]);

/** Counts per status, every status present. */
export type StatusCounts = Record<RunStatus, number>;

/** Duration statistics over finished runs (creation to terminal event, approval waits included). */
export interface DurationStats {
  /** Finished runs with both timestamps. */
  count: number;
  /** Median in ms, null when `count` is 0. */
  p50Ms: number | null;
  /** 95th percentile in ms, null when `count` is 0. */
  p95Ms: number | null;
}

/** One graph's line. */
export interface GraphStats {
  /** The graph these counts are for. */
  graph: string;
  /** Runs of this graph aggregated. */
  total: number;
  /** Runs of this graph per status. */
  byStatus: StatusCounts;
  /** Succeeded / finished, or null when nothing finished. */
  successRate: number | null;
  /** Durations of this graph's finished runs. */
  duration: DurationStats;
}

/** A run waiting for a human decision. */
export interface PendingApproval {
  /** The run id. */
  id: string;
  /** The graph the run belongs to. */
  graph: string;
  /** The gate step waiting for the decision. */
  stepId: string;
  /** The question the gate asks the approver. */
  message: string;
  /** When the gate opened (ISO). */
  since: string;
  /** How long it has waited, ms (≥ 0). */
  ageMs: number;
}

/** A run that ended with an error. */
export interface Failure {
  /** The run id. */
  id: string;
  /** The graph the run belongs to. */
  graph: string;
  /** The error code the run recorded, `unknown` when none was. */
  code: string;
  /** The error message the run recorded. */
  message: string;
  /** When it ended (ISO). */
  at: string;
}

/** Runs created in one slice of the range, by outcome. */
export interface SeriesBucket {
  /** Slice start, ms since epoch (inclusive). */
  start: number;
  /** Slice end, ms since epoch (exclusive). */
  end: number;
  /** Runs in the slice that completed or were rejected. */
  succeeded: number;
  /** Runs in the slice that errored or were aborted. */
  failed: number;
  /** Still running or waiting for approval. */
  open: number;
}

/** Everything the history page shows. */
export interface Analytics {
  /** Runs aggregated. */
  total: number;
  /**
   * True when `maxRuns` (or, with a filter, the scan cap) stopped the read: older runs in the
   * range were not counted.
   */
  truncated: boolean;
  /** Range start, ms since epoch, or null for `all`. */
  from: number | null;
  /** Time of the aggregation, ms since epoch. */
  now: number;
  /** Aggregated runs per status. */
  byStatus: StatusCounts;
  /** Succeeded / finished over all runs, or null when nothing finished. */
  successRate: number | null;
  /** Durations of all aggregated finished runs. */
  duration: DurationStats;
  /** One line per graph, most runs first. */
  graphs: GraphStats[];
  /** Oldest first (the longest wait is the most urgent). */
  pendingApprovals: PendingApproval[];
  /** Newest first, at most 10. */
  recentFailures: Failure[];
  /** Runs created per time slice, oldest slice first. */
  series: SeriesBucket[];
  /** The newest runs (at most 50), for the list. */
  recent: RunSummary[];
}

/**
 * The `p`-th percentile (0–100) of ascending `sorted` values by the nearest-rank method: the
 * smallest value with at least `p` % of the values at or below it, so the answer is always an
 * observed value. Null for an empty list.
 */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be 0–100, got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** Every status with 0. */
export function emptyStatusCounts(): StatusCounts {
  return Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as StatusCounts;
}

/** A run's duration in ms (finished runs only), or null. */
export function runDurationMs(run: RunSummary): number | null {
  if (!run.finishedAt || !FINISHED.has(run.status)) return null;
  const d = Date.parse(run.finishedAt) - Date.parse(run.createdAt);
  return Number.isFinite(d) && d >= 0 ? d : null;
}

function durationStats(runs: readonly RunSummary[]): DurationStats {
  const ds = runs.map(runDurationMs).filter((d): d is number => d !== null).sort((a, b) => a - b);
  return { count: ds.length, p50Ms: percentile(ds, 50), p95Ms: percentile(ds, 95) };
}

function successRate(counts: StatusCounts): number | null {
  let finished = 0;
  let ok = 0;
  for (const s of RUN_STATUSES) {
    if (FINISHED.has(s)) finished += counts[s];
    if (SUCCEEDED.has(s)) ok += counts[s];
  }
  return finished === 0 ? null : ok / finished;
}

/** Aggregates `runs` (newest first) for the range starting at `from` (null: the runs' span). */
export function summarize(
  runs: readonly RunSummary[],
  opts: { now: number; from: number | null; buckets: number; truncated?: boolean },
): Analytics {
  const { now } = opts;
  const byStatus = emptyStatusCounts();
  const perGraph = new Map<string, RunSummary[]>();
  const pendingApprovals: PendingApproval[] = [];
  const failures: Failure[] = [];
  for (const run of runs) {
    byStatus[run.status] = (byStatus[run.status] ?? 0) + 1;
    let list = perGraph.get(run.graph);
    if (!list) perGraph.set(run.graph, list = []);
    list.push(run);
    if (run.status === "waiting_approval" && run.pendingApproval) {
      const since = run.pendingApproval.since;
      pendingApprovals.push({
        id: run.id,
        graph: run.graph,
        stepId: run.pendingApproval.stepId,
        message: run.pendingApproval.message,
        since,
        ageMs: Math.max(0, now - (Date.parse(since) || now)),
      });
    }
    if (run.status === "error") {
      failures.push({
        id: run.id,
        graph: run.graph,
        code: run.error?.code ?? "unknown",
        message: run.error?.message ?? "(no message recorded)",
        at: run.finishedAt ?? run.updatedAt,
      });
    }
  }
  pendingApprovals.sort((a, b) => b.ageMs - a.ageMs);
  failures.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));

  const graphs: GraphStats[] = [...perGraph].map(([graph, list]) => {
    const counts = emptyStatusCounts();
    for (const r of list) counts[r.status]++;
    return {
      graph,
      total: list.length,
      byStatus: counts,
      successRate: successRate(counts),
      duration: durationStats(list),
    };
  }).sort((a, b) => b.total - a.total || a.graph.localeCompare(b.graph));

  return {
    total: runs.length,
    truncated: opts.truncated ?? false,
    from: opts.from,
    now,
    byStatus,
    successRate: successRate(byStatus),
    duration: durationStats(runs),
    graphs,
    pendingApprovals,
    recentFailures: failures.slice(0, 10),
    series: series(runs, opts),
    recent: runs.slice(0, 50),
  };
}

/** Runs per time slice by outcome; the range is `[from, now]`, or the runs' own span. */
export function series(
  runs: readonly RunSummary[],
  opts: { now: number; from: number | null; buckets: number },
): SeriesBucket[] {
  const n = Math.max(1, Math.floor(opts.buckets));
  const times = runs.map((r) => Date.parse(r.createdAt)).filter(Number.isFinite);
  let start = opts.from ?? (times.length > 0 ? Math.min(...times) : opts.now - 3_600_000);
  // One extra ms so the newest run (created at `now`) falls inside the last slice.
  const end = Math.max(opts.now + 1, start + n);
  if (start >= end) start = end - n;
  const width = (end - start) / n;
  const out: SeriesBucket[] = Array.from({ length: n }, (_, i) => ({
    start: Math.round(start + i * width),
    end: Math.round(start + (i + 1) * width),
    succeeded: 0,
    failed: 0,
    open: 0,
  }));
  for (const run of runs) {
    const t = Date.parse(run.createdAt);
    if (!Number.isFinite(t) || t < start || t >= end) continue;
    const b = out[Math.min(n - 1, Math.floor((t - start) / width))];
    if (SUCCEEDED.has(run.status)) b.succeeded++;
    else if (FAILED.has(run.status)) b.failed++;
    else b.open++;
  }
  return out;
}
