import type { Analytics, GraphStats } from "../lib/analytics.ts";
import { RUN_STATUSES, type RunStatus } from "../lib/event_names.ts";
import { formatDuration, formatRate, formatTime } from "../lib/analytics.ts";

const STATUS_LABELS: Record<RunStatus, string> = {
  running: "Running",
  waiting_approval: "Waiting",
  complete: "Complete",
  rejected: "Rejected",
  error: "Error",
  aborted: "Aborted",
};

const TONES: Record<RunStatus, string> = {
  running: "live",
  waiting_approval: "wait",
  complete: "ok",
  rejected: "warn",
  error: "bad",
  aborted: "warn",
};

/** A link to one run's timeline. */
export function RunLink({ id }: { id: string }) {
  return <a class="mono" href={`/runs/${encodeURIComponent(id)}`}>{id}</a>;
}

/** A status pill. */
export function StatusPill({ status }: { status: RunStatus }) {
  return (
    <span class={`status status-${TONES[status] ?? "live"}`}>
      {STATUS_LABELS[status] ?? status}
    </span>
  );
}

/** The headline numbers. */
export function KeyFigures({ a }: { a: Analytics }) {
  const open = a.byStatus.running + a.byStatus.waiting_approval;
  return (
    <dl class="facts an-figures" data-testid="key-figures">
      <div>
        <dt>Runs</dt>
        <dd data-testid="total">{a.total}{a.truncated ? "+" : ""}</dd>
      </div>
      <div>
        <dt>Success rate</dt>
        <dd data-testid="success-rate">{formatRate(a.successRate)}</dd>
      </div>
      <div>
        <dt>Duration p50</dt>
        <dd data-testid="p50">{formatDuration(a.duration.p50Ms)}</dd>
      </div>
      <div>
        <dt>Duration p95</dt>
        <dd data-testid="p95">{formatDuration(a.duration.p95Ms)}</dd>
      </div>
      <div>
        <dt>Open now</dt>
        <dd>{open}</dd>
      </div>
      <div>
        <dt>Awaiting approval</dt>
        <dd data-testid="pending-count">{a.pendingApprovals.length}</dd>
      </div>
    </dl>
  );
}

function GraphRow({ g }: { g: GraphStats }) {
  return (
    <tr data-graph={g.graph}>
      <th scope="row">
        <a href={`/runs?graph=${encodeURIComponent(g.graph)}`}>
          <code>{g.graph}</code>
        </a>
      </th>
      <td class="num">{g.total}</td>
      {RUN_STATUSES.map((s) => <td key={s} class="num" data-status={s}>{g.byStatus[s]}</td>)}
      <td class="num">{formatRate(g.successRate)}</td>
      <td class="num">{formatDuration(g.duration.p50Ms)}</td>
      <td class="num">{formatDuration(g.duration.p95Ms)}</td>
    </tr>
  );
}

/** Runs per graph and status, with success rate and duration percentiles. */
export function GraphTable({ a }: { a: Analytics }) {
  if (a.graphs.length === 0) return <p class="muted">No runs in this range.</p>;
  return (
    <div class="table-wrap">
      <table class="an-table" data-testid="graph-table">
        <thead>
          <tr>
            <th scope="col">Workflow</th>
            <th scope="col" class="num">Runs</th>
            {RUN_STATUSES.map((s) => <th key={s} scope="col" class="num">{STATUS_LABELS[s]}</th>)}
            <th scope="col" class="num">Success</th>
            <th scope="col" class="num">p50</th>
            <th scope="col" class="num">p95</th>
          </tr>
        </thead>
        <tbody>
          {a.graphs.map((g) => <GraphRow key={g.graph} g={g} />)}
        </tbody>
      </table>
    </div>
  );
}

/** Runs waiting for a decision, longest wait first. */
export function PendingApprovals({ a }: { a: Analytics }) {
  if (a.pendingApprovals.length === 0) {
    return <p class="muted">Nothing is waiting for a decision.</p>;
  }
  return (
    <ul class="an-list" data-testid="pending">
      {a.pendingApprovals.map((p) => (
        <li key={p.id}>
          <RunLink id={p.id} /> <code>{p.graph}</code> · <strong>{p.stepId}</strong>{" "}
          <span class="muted">waiting {formatDuration(p.ageMs)}</span>
          <br />
          <span>{p.message}</span>
        </li>
      ))}
    </ul>
  );
}

/** The newest failures with their messages. */
export function RecentFailures({ a }: { a: Analytics }) {
  if (a.recentFailures.length === 0) return <p class="muted">No failures in this range.</p>;
  return (
    <ul class="an-list" data-testid="failures">
      {a.recentFailures.map((f) => (
        <li key={f.id}>
          <RunLink id={f.id} /> <code>{f.graph}</code> <span class="muted">{formatTime(f.at)}</span>
          <br />
          <strong>{f.code}</strong> — {f.message}
        </li>
      ))}
    </ul>
  );
}

/** The newest runs, each linking to its timeline. */
export function RunList({ a }: { a: Analytics }) {
  if (a.recent.length === 0) return <p class="muted">No runs match these filters.</p>;
  return (
    <div class="table-wrap">
      <table class="an-table" data-testid="run-list">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Workflow</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col" class="num">Events</th>
            <th scope="col">Prompt</th>
          </tr>
        </thead>
        <tbody>
          {a.recent.map((r) => (
            <tr key={r.id}>
              <td>
                <RunLink id={r.id} />
              </td>
              <td>
                <code>{r.graph}</code>
              </td>
              <td>
                <StatusPill status={r.status} />
              </td>
              <td>{formatTime(r.createdAt)}</td>
              <td class="num">{r.eventCount}</td>
              <td class="an-prompt">{r.prompt ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
