import { page } from "fresh";
import { asset } from "fresh/runtime";
import { raceTimeout } from "../../lib/async.ts";
import { define } from "../../lib/define.ts";
import {
  type Analytics,
  loadAnalytics,
  parseAnalyticsQuery,
  type RangeKey,
  RANGES,
} from "../../lib/analytics.ts";
import type { RunStatus } from "../../lib/event_names.ts";
import { SiteHeader } from "../../components/site_header.tsx";
import { RunsChart } from "../../components/analytics_chart.tsx";
import { AnalyticsFilters } from "../../components/analytics_filters.tsx";
import {
  GraphTable,
  KeyFigures,
  PendingApprovals,
  RecentFailures,
  RunList,
} from "../../components/analytics_tables.tsx";

/** How long the graph picker waits for the workflow service before rendering without it. */
const GRAPHS_WAIT_MS = 1_000;

/** The workflow service's graph names, or none when it is down or slow (never fails the page). */
function offeredGraphs(list: () => Promise<{ name: string }[]>): Promise<string[]> {
  const names = list().then((gs) => gs.map((g) => g.name), () => []);
  return raceTimeout(names, GRAPHS_WAIT_MS, () => []);
}

interface RunsPageData {
  a: Analytics;
  graphs: string[];
  graph?: string;
  status?: RunStatus;
  range: RangeKey;
}

/**
 * `GET /runs`: history and analytics from the run log, rendered on the server (no islands, so
 * no script). Filters come from the query string; the aggregation reads a bounded number of
 * the newest runs in the range (lib/analytics.ts).
 */
export const handler = define.handlers({
  async GET(ctx) {
    const { store, upstream } = ctx.state.services;
    const q = parseAnalyticsQuery(ctx.url.searchParams);
    const [a, offered] = await Promise.all([
      loadAnalytics(store, q),
      // The picker is a convenience: a workflow service that is down costs (almost) nothing.
      offeredGraphs(() => upstream.graphs()),
    ]);
    const graphs = [...new Set([...offered, ...a.graphs.map((g) => g.graph)])].sort();
    if (q.graph && !graphs.includes(q.graph)) graphs.push(q.graph);
    return page<RunsPageData>({ a, graphs, ...q });
  },
});

/** The history page. */
export default define.page<typeof handler>(({ data, state }) => {
  const { a, graphs, graph, status, range } = data;
  return (
    <>
      <link rel="stylesheet" href={asset("/analytics.css")} />
      <SiteHeader current="runs" signedIn={state.signedIn} />
      <main class="an-page" id="main">
        <header>
          <p class="eyebrow">History</p>
          <h1>Runs</h1>
          <p class="lead">
            {RANGES[range].label}
            {graph ? ` · ${graph}` : ""}
            {status ? ` · ${status}` : ""}
            {a.truncated && ` · the newest ${a.total} runs`}
          </p>
        </header>
        <AnalyticsFilters graphs={graphs} graph={graph} status={status} range={range} />
        <KeyFigures a={a} />
        <section class="an-section" aria-labelledby="an-time">
          <h2 id="an-time">Runs over time</h2>
          <RunsChart series={a.series} />
        </section>
        <section class="an-section" aria-labelledby="an-graphs">
          <h2 id="an-graphs">By workflow and status</h2>
          <GraphTable a={a} />
          <p class="muted an-note">
            Success rate: runs that ended complete or rejected (a rejection is a decision, not a
            fault) out of all runs that ended. Durations run from start to the terminal event,
            approval waits included.
          </p>
        </section>
        <div class="an-two">
          <section class="an-section" aria-labelledby="an-pending">
            <h2 id="an-pending">Waiting for approval</h2>
            <PendingApprovals a={a} />
          </section>
          <section class="an-section" aria-labelledby="an-failures">
            <h2 id="an-failures">Recent failures</h2>
            <RecentFailures a={a} />
          </section>
        </div>
        <section class="an-section" aria-labelledby="an-runs">
          <h2 id="an-runs">Latest runs</h2>
          <RunList a={a} />
        </section>
      </main>
    </>
  );
});
