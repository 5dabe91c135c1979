import { type RangeKey, RANGES } from "../lib/analytics.ts";
import { RUN_STATUSES, type RunStatus } from "../lib/event_names.ts";

/** Props of {@link AnalyticsFilters}. */
export interface AnalyticsFiltersProps {
  /** Graph names to offer. */
  graphs: string[];
  /** The graph selected (absent: all). */
  graph?: string;
  /** The run status selected (absent: all). */
  status?: RunStatus;
  /** The time range selected. */
  range: RangeKey;
}

/** A plain GET form (works without JavaScript): graph, status and time range. */
export function AnalyticsFilters({ graphs, graph, status, range }: AnalyticsFiltersProps) {
  return (
    <form class="an-filters" method="get" action="/runs" aria-label="Filters">
      <label>
        Workflow
        <select name="graph">
          <option value="">All</option>
          {graphs.map((g) => <option key={g} value={g} selected={g === graph}>{g}</option>)}
        </select>
      </label>
      <label>
        Status
        <select name="status">
          <option value="">All</option>
          {RUN_STATUSES.map((s) => <option key={s} value={s} selected={s === status}>{s}</option>)}
        </select>
      </label>
      <label>
        Time range
        <select name="range">
          {(Object.keys(RANGES) as RangeKey[]).map((k) => (
            <option key={k} value={k} selected={k === range}>{RANGES[k].label}</option>
          ))}
        </select>
      </label>
      <button class="btn" type="submit">Apply</button>
    </form>
  );
}
