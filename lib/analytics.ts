/**
 * History and analytics over the run log, framework-free: which runs a view covers (range,
 * filters, the page's query string), reading them, and formatting the figures for the page. The
 * figures themselves are computed in analytics_aggregate.ts; its exports are re-exported here.
 *
 * The work is bounded: {@link collectRuns} reads at most `maxRuns` summaries (with a filter, at
 * most `maxScan`), newest first, and stops at the first run older than the range whatever its
 * graph or status (the store lists by creation time), so a long history never turns one page
 * view into a scan of the whole log.
 * @module
 */
import { type Analytics, summarize } from "./analytics_aggregate.ts";
import { RUN_STATUSES, type RunStatus } from "./event_names.ts";
import type { RunSummary } from "./events.ts";
import type { RunListPage, RunListQuery } from "./runs/store.ts";

export {
  type Analytics,
  type DurationStats,
  emptyStatusCounts,
  type Failure,
  type GraphStats,
  type PendingApproval,
  percentile,
  runDurationMs,
  series,
  type SeriesBucket,
  type StatusCounts,
  summarize,
} from "./analytics_aggregate.ts";

/** Time ranges the history page offers; `all` is bounded only by `maxRuns` and the TTL. */
export const RANGES = {
  "1h": { label: "Last hour", ms: 3_600_000, buckets: 12 },
  "24h": { label: "Last 24 hours", ms: 86_400_000, buckets: 24 },
  "7d": { label: "Last 7 days", ms: 7 * 86_400_000, buckets: 28 },
  "all": { label: "Everything kept", ms: Infinity, buckets: 24 },
} as const;

/** A key of {@link RANGES}. */
export type RangeKey = keyof typeof RANGES;

/** The default range when the query names none. */
export const DEFAULT_RANGE: RangeKey = "24h";

/** Default cap on the summaries one analytics view aggregates. */
export const DEFAULT_MAX_RUNS = 1_000;

/** Default cap on the summaries one filtered analytics view reads to find them. */
export const DEFAULT_MAX_SCAN = 10_000;

/** What to aggregate. */
export interface AnalyticsQuery {
  /** Only runs of this graph. */
  graph?: string;
  /** Only runs with this status. */
  status?: RunStatus;
  /** The time range (by creation time), ending now. */
  range?: RangeKey;
  /** Read at most this many summaries (default {@link DEFAULT_MAX_RUNS}). */
  maxRuns?: number;
}

/** The part of the run store analytics reads. */
export interface RunLister {
  /** Runs newest first, filtered and paginated (the run store's `list`). */
  list(query?: RunListQuery): Promise<RunListPage>;
}

/**
 * Reads the newest runs matching `query`, page by page, until `maxRuns`, the end of the log, or
 * the first run created before `from`.
 *
 * With a range and a graph or status filter, the index is scanned unfiltered and filtered here:
 * the store's own filter skips non-matching runs, so a scan for a rare status would read on past
 * the range to the end of the log, stopping only at a matching old run. Here the first run older
 * than the range ends the scan whatever its graph or status, and `maxScan` bounds how many
 * summaries a range full of other runs can cost. Without a range there is nothing to stop at,
 * and the store filters.
 */
export async function collectRuns(
  store: RunLister,
  query: {
    graph?: string;
    status?: RunStatus;
    from: number | null;
    maxRuns: number;
    /** Most summaries read when filtering here (default {@link DEFAULT_MAX_SCAN}). */
    maxScan?: number;
  },
): Promise<{ runs: RunSummary[]; truncated: boolean }> {
  const { from, maxRuns } = query;
  const filterHere = from !== null && (query.graph !== undefined || query.status !== undefined);
  const maxScan = query.maxScan ?? DEFAULT_MAX_SCAN;
  const matches = (run: RunSummary) =>
    (query.graph === undefined || run.graph === query.graph) &&
    (query.status === undefined || run.status === query.status);
  const runs: RunSummary[] = [];
  let scanned = 0;
  let cursor: string | undefined;
  while (true) {
    const page = await store.list(
      filterHere ? { limit: Math.min(500, maxScan - scanned + 1), cursor } : {
        graph: query.graph,
        status: query.status,
        limit: Math.min(500, maxRuns - runs.length + 1),
        cursor,
      },
    );
    for (const run of page.runs) {
      if (from !== null && Date.parse(run.createdAt) < from) return { runs, truncated: false };
      if (filterHere) {
        if (scanned === maxScan) return { runs, truncated: true };
        scanned++;
        if (!matches(run)) continue;
      }
      if (runs.length === maxRuns) return { runs, truncated: true };
      runs.push(run);
    }
    if (!page.cursor) return { runs, truncated: false };
    cursor = page.cursor;
  }
}

/** Reads and aggregates: what `/runs` renders. */
export async function loadAnalytics(
  store: RunLister,
  query: AnalyticsQuery = {},
  now: number = Date.now(),
): Promise<Analytics> {
  const range = RANGES[query.range ?? DEFAULT_RANGE];
  const from = Number.isFinite(range.ms) ? now - range.ms : null;
  const { runs, truncated } = await collectRuns(store, {
    graph: query.graph,
    status: query.status,
    from,
    maxRuns: query.maxRuns ?? DEFAULT_MAX_RUNS,
  });
  return summarize(runs, { now, from, buckets: range.buckets, truncated });
}

/** Parses the page's query string; unknown or malformed values fall back to "no filter". */
export function parseAnalyticsQuery(params: URLSearchParams): {
  graph?: string;
  status?: RunStatus;
  range: RangeKey;
} {
  const graph = params.get("graph") ?? "";
  const status = params.get("status") ?? "";
  const range = params.get("range") ?? "";
  return {
    ...(/^[a-z][a-z0-9_]{0,63}$/.test(graph) ? { graph } : {}),
    ...((RUN_STATUSES as readonly string[]).includes(status)
      ? { status: status as RunStatus }
      : {}),
    range: Object.hasOwn(RANGES, range) ? range as RangeKey : DEFAULT_RANGE,
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting for the history page (en-US, so output is stable)

/** `1234` → `1.2 s`, `95000` → `1 min 35 s`, `null` → `–`. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalS = Math.round(ms / 1000);
  if (totalS < 3600) {
    const s = totalS % 60;
    return `${Math.floor(totalS / 60)} min${s ? ` ${s} s` : ""}`;
  }
  const totalM = Math.round(ms / 60_000);
  if (totalM < 48 * 60) {
    const m = totalM % 60;
    return `${Math.floor(totalM / 60)} h${m ? ` ${m} min` : ""}`;
  }
  return `${Math.round(ms / 86_400_000)} d`;
}

/** `0.875` → `87.5 %`, `null` → `–`. */
export function formatRate(rate: number | null): string {
  if (rate === null) return "–";
  const pct = rate * 100;
  return `${Number.isInteger(pct) ? pct : pct.toFixed(1)} %`;
}

/** An ISO timestamp as `YYYY-MM-DD HH:MM UTC`. */
export function formatTime(iso: string): string {
  return iso.length >= 16 ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso;
}
