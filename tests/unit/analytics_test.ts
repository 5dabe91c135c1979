import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  collectRuns,
  formatDuration,
  formatRate,
  loadAnalytics,
  parseAnalyticsQuery,
  percentile,
  type RunLister,
  series,
  summarize,
} from "../../lib/analytics.ts";
import type { RunSummary } from "../../lib/events.ts";
import type { RunListQuery } from "../../lib/runs/store.ts";

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

function run(i: number, over: Partial<RunSummary> = {}): RunSummary {
  const created = NOW - i * 60_000;
  return {
    id: `r${i}`,
    graph: "hotel_o2c",
    dialect: "workflow",
    status: "complete",
    createdAt: iso(created),
    updatedAt: iso(created + 1000),
    finishedAt: iso(created + 1000),
    eventCount: 3,
    ...over,
  };
}

/** A store whose list pages like the KV store: newest first, short pages with a cursor. */
function fakeStore(runs: RunSummary[], pageSize = 7): RunLister & { calls: RunListQuery[] } {
  const calls: RunListQuery[] = [];
  return {
    calls,
    list(q: RunListQuery = {}) {
      calls.push(q);
      const matching = runs.filter((r) =>
        (!q.graph || r.graph === q.graph) && (!q.status || r.status === q.status)
      );
      const start = q.cursor ? Number(q.cursor) : 0;
      const n = Math.min(pageSize, q.limit ?? 50);
      const page = matching.slice(start, start + n);
      const next = start + n < matching.length ? String(start + n) : undefined;
      return Promise.resolve({ runs: page, ...(next ? { cursor: next } : {}) });
    },
  };
}

/**
 * A store whose list filters the way the KV store does: it walks the index newest first, reads
 * each summary (counted in `read`) and skips the ones that do not match, handing back a short
 * page with a cursor after `maxScan` entries.
 */
function scanningStore(runs: RunSummary[]): RunLister & { read: number } {
  const store = {
    read: 0,
    list(q: RunListQuery = {}) {
      const limit = q.limit ?? 50;
      const maxScan = Math.max(1_000, limit * 20);
      let at = q.cursor ? Number(q.cursor) : 0;
      const page: RunSummary[] = [];
      let scanned = 0;
      while (at < runs.length && page.length < limit && scanned < maxScan) {
        const r = runs[at++];
        store.read++;
        scanned++;
        if ((q.graph && r.graph !== q.graph) || (q.status && r.status !== q.status)) continue;
        page.push(r);
      }
      return Promise.resolve({ runs: page, ...(at < runs.length ? { cursor: String(at) } : {}) });
    },
  };
  return store;
}

describe("percentile (nearest rank)", () => {
  it("returns observed values at the nearest rank", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(xs, 50), 50);
    assert.equal(percentile(xs, 95), 95);
    assert.equal(percentile(xs, 99), 99);
    assert.equal(percentile(xs, 100), 100);
    assert.equal(percentile(xs, 0), 1);
  });
  it("handles small and empty lists", () => {
    assert.equal(percentile([], 50), null);
    assert.equal(percentile([7], 95), 7);
    assert.equal(percentile([1, 2], 50), 1);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 95), 4);
    assert.equal(percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 1000], 95), 1000);
  });
  it("rejects a percentile outside 0–100", () => {
    assert.throws(() => percentile([1], 101), RangeError);
    assert.throws(() => percentile([1], NaN), RangeError);
  });
});

describe("summarize", () => {
  const runs: RunSummary[] = [
    run(0, { status: "running", finishedAt: undefined }),
    run(1, {
      status: "waiting_approval",
      finishedAt: undefined,
      pendingApproval: { stepId: "approve_quote", message: "OK?", since: iso(NOW - 90_000) },
    }),
    run(2, {
      status: "waiting_approval",
      finishedAt: undefined,
      pendingApproval: { stepId: "approve_po", message: "PO?", since: iso(NOW - 600_000) },
    }),
    run(3, {
      status: "error",
      finishedAt: iso(NOW - 3 * 60_000 + 4000),
      error: { code: "upstream_ended", message: "ended early" },
    }),
    run(4, { status: "aborted", finishedAt: iso(NOW - 4 * 60_000 + 2000) }),
    run(5, { status: "rejected", finishedAt: iso(NOW - 5 * 60_000 + 3000) }),
    run(6, { graph: "purchase_order", finishedAt: iso(NOW - 6 * 60_000 + 10_000) }),
    run(7, { finishedAt: iso(NOW - 7 * 60_000 + 1000) }),
    run(8, {
      status: "error",
      graph: "purchase_order",
      finishedAt: iso(NOW - 8 * 60_000 + 5000),
      error: { code: "relay_lost", message: "gateway died" },
    }),
  ];
  const a = summarize(runs, { now: NOW, from: NOW - 3_600_000, buckets: 12 });

  it("counts by status and graph", () => {
    assert.equal(a.total, 9);
    assert.deepEqual(a.byStatus, {
      running: 1,
      waiting_approval: 2,
      complete: 2,
      rejected: 1,
      error: 2,
      aborted: 1,
    });
    assert.deepEqual(a.graphs.map((g) => [g.graph, g.total]), [
      ["hotel_o2c", 7],
      ["purchase_order", 2],
    ]);
    assert.equal(a.graphs[1].byStatus.error, 1);
    assert.equal(a.graphs[1].byStatus.complete, 1);
  });

  it("rates success as (complete + rejected) / finished", () => {
    // finished: 2 complete, 1 rejected, 2 error, 1 aborted = 6; succeeded 3.
    assert.equal(a.successRate, 0.5);
    assert.equal(a.graphs[1].successRate, 0.5);
    assert.equal(
      summarize([run(0, { status: "running" })], { now: NOW, from: null, buckets: 4 })
        .successRate,
      null,
    );
  });

  it("computes duration percentiles over finished runs only", () => {
    // durations (ms): 4000, 2000, 3000, 10000, 1000, 5000 → sorted 1000 2000 3000 4000 5000 10000
    assert.equal(a.duration.count, 6);
    assert.equal(a.duration.p50Ms, 3000);
    assert.equal(a.duration.p95Ms, 10_000);
    assert.equal(a.graphs[1].duration.p50Ms, 5000);
  });

  it("lists pending approvals oldest first with their age, and failures newest first", () => {
    assert.deepEqual(a.pendingApprovals.map((p) => [p.id, p.stepId, p.ageMs]), [
      ["r2", "approve_po", 600_000],
      ["r1", "approve_quote", 90_000],
    ]);
    assert.deepEqual(a.recentFailures.map((f) => [f.id, f.code, f.message]), [
      ["r3", "upstream_ended", "ended early"],
      ["r8", "relay_lost", "gateway died"],
    ]);
  });

  it("buckets runs over time by outcome", () => {
    assert.equal(a.series.length, 12);
    const sum = a.series.reduce((n, b) => n + b.succeeded + b.failed + b.open, 0);
    assert.equal(sum, 9);
    const last = a.series.at(-1)!;
    // The last 5 minutes hold r0..r4: 3 open, 2 failed (error + aborted).
    assert.deepEqual([last.open, last.failed, last.succeeded], [3, 2, 0]);
    assert.equal(a.series[0].start, NOW - 3_600_000);
  });

  it("spans the runs themselves when the range is open", () => {
    const s = series([run(0), run(30)], { now: NOW, from: null, buckets: 3 });
    assert.equal(s[0].start, NOW - 30 * 60_000);
    assert.equal(s.reduce((n, b) => n + b.succeeded, 0), 2);
  });
});

describe("collectRuns", () => {
  const runs = Array.from({ length: 40 }, (_, i) => run(i * 10)); // one every 10 minutes

  it("stops at the first run older than the range", async () => {
    const store = fakeStore(runs);
    const { runs: got, truncated } = await collectRuns(store, {
      from: NOW - 95 * 60_000,
      maxRuns: 1000,
    });
    assert.equal(got.length, 10); // 0, 10, … 90 minutes ago
    assert.equal(truncated, false);
    assert.equal(store.calls.length, 2, "read only the pages it needed");
  });

  it("is bounded by maxRuns and says so", async () => {
    const store = fakeStore(runs);
    const { runs: got, truncated } = await collectRuns(store, { from: null, maxRuns: 15 });
    assert.equal(got.length, 15);
    assert.equal(truncated, true);
    assert.ok(store.calls.length <= 3);
    assert.ok(store.calls.every((q) => (q.limit ?? 0) <= 16));
  });

  it("with a filter, stops at the first run older than the range whatever its status", async () => {
    // Five recent failures, then a long history of older successes.
    const history = [
      ...Array.from({ length: 5 }, (_, i) => run(i, { id: `e${i}`, status: "error" })),
      ...Array.from({ length: 5_000 }, (_, i) => run(120 + i)),
    ];
    const store = scanningStore(history);
    const { runs: got, truncated } = await collectRuns(store, {
      status: "error",
      from: NOW - 3_600_000,
      maxRuns: 1000,
    });
    assert.deepEqual(got.map((r) => r.id), ["e0", "e1", "e2", "e3", "e4"]);
    assert.equal(truncated, false);
    // At most one page: the store's filter alone would have read all 5005 summaries.
    assert.ok(store.read <= 500, `read ${store.read} summaries`);
  });

  it("with a filter, bounds the scan of a range full of other runs and says so", async () => {
    const busy = Array.from({ length: 200 }, (_, i) => run(i, { graph: "purchase_order" }));
    const store = scanningStore(busy);
    const { runs: got, truncated } = await collectRuns(store, {
      graph: "hotel_o2c",
      from: NOW - 86_400_000,
      maxRuns: 1000,
      maxScan: 50,
    });
    assert.deepEqual(got, []);
    assert.equal(truncated, true);
    assert.ok(store.read <= 51, `read ${store.read} summaries`);
  });

  it("passes graph and status filters to the store when the range is open", async () => {
    const store = fakeStore([...runs, run(1, { id: "x", graph: "purchase_order" })]);
    const a = await loadAnalytics(store, { graph: "purchase_order", range: "all" }, NOW);
    assert.equal(a.total, 1);
    assert.equal(store.calls[0].graph, "purchase_order");
  });
});

describe("query and formatting", () => {
  it("parses filters and ignores malformed ones", () => {
    assert.deepEqual(
      parseAnalyticsQuery(new URLSearchParams("graph=hotel_o2c&status=error&range=7d")),
      { graph: "hotel_o2c", status: "error", range: "7d" },
    );
    assert.deepEqual(
      parseAnalyticsQuery(new URLSearchParams("graph=<x>&status=bogus&range=__proto__")),
      { range: "24h" },
    );
  });
  it("formats durations and rates", () => {
    assert.equal(formatDuration(null), "–");
    assert.equal(formatDuration(250), "250 ms");
    assert.equal(formatDuration(1234), "1.2 s");
    assert.equal(formatDuration(95_000), "1 min 35 s");
    assert.equal(formatDuration(2 * 3_600_000 + 5 * 60_000), "2 h 5 min");
    assert.equal(formatRate(0.5), "50 %");
    assert.equal(formatRate(2 / 3), "66.7 %");
    assert.equal(formatRate(null), "–");
  });
});
