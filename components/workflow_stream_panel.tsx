import { humanize } from "../lib/console/format.ts";
import { isFinished, type RunView } from "../lib/console/run_state.ts";
import { domainSummary } from "../lib/console/summary.ts";
import { ApprovalCard } from "./approval_card.tsx";
import { DocumentView } from "./document_view.tsx";
import { DomainSummary } from "./domain_summary.tsx";
import { ErrorBoundary } from "./error_boundary.tsx";
import { EventRow } from "./event_row.tsx";
import { StepTimeline } from "./step_timeline.tsx";

/** Props of {@link WorkflowStreamPanel}. */
export interface WorkflowStreamPanelProps {
  /** The run as its events so far tell it. */
  view: RunView;
  /** The status line's text (`streaming`, `reconnecting 1/3`, …). */
  status: string;
  /** The graph's domain, for the summary. */
  domain?: string;
  /** Sends an approval decision (live panel only). */
  onDecide?: (decision: "approve" | "reject", comment: string) => void;
  /** Aborts the run (live panel only). */
  onAbort?: () => void;
  /** The action in flight: `approve`, `reject` or `abort`. */
  busy?: string;
  /** Why the last action failed. */
  problem?: string;
}

const TONES: Record<string, string> = {
  complete: "ok",
  rejected: "warn",
  aborted: "warn",
  error: "bad",
  "waiting for approval": "wait",
};

/**
 * One run, live: status line, domain summary, step timeline, approval card, documents and the
 * newest events. Every event row and document sits behind its own error boundary.
 */
export function WorkflowStreamPanel(
  { view, status, domain, onDecide, onAbort, busy, problem }: WorkflowStreamPanelProps,
) {
  const titles = new Map(view.steps.map((s) => [s.name, s.title]));
  const titleOf = (step: string) => titles.get(step) ?? humanize(step);
  const tone = TONES[status] ?? (status.startsWith("reconnecting") ? "warn" : "live");
  const done = isFinished(view.phase);
  return (
    <section class="panel" aria-labelledby="panel-title" data-run={view.runId}>
      <header class="panel-head">
        <h2 id="panel-title">{view.title ?? "Workflow run"}</h2>
        <p class={`status status-${tone}`} role="status" data-testid="status" tabIndex={-1}>
          {status}
        </p>
      </header>
      <DomainSummary lines={domainSummary(view.graph, view.facts, domain)} />
      {view.steps.length > 0 && <StepTimeline steps={view.steps} />}
      {view.approval && (
        <ApprovalCard
          key={view.approval.stepId}
          approval={view.approval}
          onDecide={view.phase === "waiting" ? onDecide : undefined}
          sending={busy === "approve" || busy === "reject" ? busy : undefined}
          problem={problem}
        />
      )}
      {view.error && (
        <p class="alert" role="alert" data-testid="run-error">
          <strong>
            {(view.error.status ?? 0) >= 500
              ? "Workflow service unavailable"
              : view.error.code === "connection_lost"
              ? "Connection lost"
              : "Run failed"}
          </strong>
          {" — "}
          {view.error.message}
        </p>
      )}
      {view.artifacts.length > 0 && (
        <div class="docs">
          {view.artifacts.map((a) => (
            <ErrorBoundary key={a.name} what={`the ${humanize(a.name).toLowerCase()} document`}>
              <DocumentView artifact={a} />
            </ErrorBoundary>
          ))}
        </div>
      )}
      <h3 class="events-title">Events</h3>
      <ol class="events" aria-live="polite" aria-relevant="additions" data-testid="events">
        {view.rows.map(({ key, event }) => (
          <li key={key} class="ev" data-type={event.type} data-seq={event.id}>
            <ErrorBoundary what="this event">
              <EventRow event={event} titleOf={titleOf} />
            </ErrorBoundary>
          </li>
        ))}
      </ol>
      {view.dropped > 0 && (
        <p class="muted">{view.dropped} earlier events are in the full timeline.</p>
      )}
      <footer class="panel-foot">
        {onAbort && !done && (
          <button type="button" class="btn danger-outline" onClick={onAbort} disabled={!!busy}>
            {busy === "abort" ? "Aborting…" : "Abort run"}
          </button>
        )}
        {problem && view.phase !== "waiting" && <p class="alert" role="alert">{problem}</p>}
        <a class="link" href={`/runs/${encodeURIComponent(view.runId)}`}>Full timeline →</a>
      </footer>
    </section>
  );
}
