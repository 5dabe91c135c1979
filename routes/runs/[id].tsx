import { page } from "fresh";
import { define } from "../../lib/define.ts";
import { RUN_ID_RE, type RunSummary } from "../../lib/events.ts";
import { clock, describeEvent, humanize } from "../../lib/console/format.ts";
import {
  applyEvent,
  type ConsoleEvent,
  emptyRun,
  type RunView,
} from "../../lib/console/run_state.ts";
import { domainSummary } from "../../lib/console/summary.ts";
import { layoutDocument } from "../../lib/console/documents.ts";
import { SiteHeader } from "../../components/site_header.tsx";
import { StepTimeline } from "../../components/step_timeline.tsx";
import { DomainSummary } from "../../components/domain_summary.tsx";
import { ApprovalCard } from "../../components/approval_card.tsx";
import { DocumentView } from "../../components/document_view.tsx";

type RunPageData =
  | { found: false; id: string }
  | { found: true; run: RunSummary; view: RunView; domain?: string; events: ConsoleEvent[] };

function parseData(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : { value };
  } catch {
    return { raw: text };
  }
}

/**
 * `GET /runs/:id`: one run's whole timeline from the run log, rendered on the server (no
 * islands, no JavaScript). An unknown id gets a 404 page.
 */
export const handler = define.handlers({
  async GET(ctx) {
    const id = ctx.params.id;
    const { store, upstream } = ctx.state.services;
    const run = RUN_ID_RE.test(id) ? await store.get(id) : null;
    if (!run) return page<RunPageData>({ found: false, id }, { status: 404 });
    const stored = await store.read(id, 0);
    const events = stored.map((e) => ({ id: e.seq, type: e.type, data: parseData(e.data) }));
    const view = events.reduce((v, e) => applyEvent(v, e, Infinity), emptyRun(id));
    // The domain only picks the summary's lines; a workflow service that is down costs nothing.
    const domain = await upstream.graphs().then(
      (gs) => gs.find((g) => g.name === run.graph)?.domain,
      () => undefined,
    );
    return page<RunPageData>({ found: true, run, view, domain, events });
  },
});

const STATUS_LABELS: Record<string, string> = {
  running: "running",
  waiting_approval: "waiting for approval",
  complete: "complete",
  rejected: "rejected",
  error: "error",
  aborted: "aborted",
};

const TONES: Record<string, string> = {
  complete: "ok",
  rejected: "warn",
  aborted: "warn",
  error: "bad",
  waiting_approval: "wait",
};

/** A document, or a fallback line when its content is malformed (no error boundary on the server). */
function SafeDocument({ artifact }: { artifact: RunView["artifacts"][number] }) {
  try {
    layoutDocument(artifact.name, artifact.content);
  } catch (err) {
    return (
      <p class="fallback" role="note">
        Could not display the {humanize(artifact.name).toLowerCase()} document:{" "}
        {err instanceof Error ? err.message : String(err)}
      </p>
    );
  }
  return <DocumentView artifact={artifact} />;
}

function NotFound({ id }: { id: string }) {
  return (
    <main class="narrow" id="main">
      <p class="eyebrow">404</p>
      <h1>No run with this id</h1>
      <p class="lead">
        <code>{id}</code>{" "}
        is not in the run log. It may never have existed, or it expired (runs are kept for a limited
        time).
      </p>
      <p>
        <a class="btn primary" href="/runs">All runs</a> <a class="btn" href="/">Console</a>
      </p>
    </main>
  );
}

/** The run's timeline page. */
export default define.page<typeof handler>(({ data }) => {
  if (!data.found) {
    return (
      <>
        <SiteHeader current="runs" />
        <NotFound id={data.id} />
      </>
    );
  }
  const { run, view, domain, events } = data;
  const titles = new Map(view.steps.map((s) => [s.name, s.title]));
  const titleOf = (step: string) => titles.get(step) ?? humanize(step);
  const live = run.status === "running" || run.status === "waiting_approval";
  const summary = domainSummary(run.graph, view.facts, domain);
  return (
    <>
      <SiteHeader current="runs" />
      <main class="run-page" id="main">
        <nav class="crumbs" aria-label="Breadcrumb">
          <a href="/runs">Runs</a> <span aria-hidden="true">/</span> <span>{run.id}</span>
        </nav>
        <header class="run-head">
          <div>
            <p class="eyebrow">{view.title ?? run.graph}</p>
            <h1>{run.prompt || humanize(run.graph)}</h1>
            <p class="muted mono">{run.id}</p>
          </div>
          <p class={`status status-${TONES[run.status] ?? "live"}`} data-testid="status">
            {STATUS_LABELS[run.status] ?? run.status}
          </p>
        </header>
        <dl class="facts">
          <div>
            <dt>Workflow</dt>
            <dd>
              <code>{run.graph}</code>
            </dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>{run.createdAt.replace("T", " ").slice(0, 19)} UTC</dd>
          </div>
          <div>
            <dt>{run.finishedAt ? "Finished" : "Last update"}</dt>
            <dd>{(run.finishedAt ?? run.updatedAt).replace("T", " ").slice(0, 19)} UTC</dd>
          </div>
          <div>
            <dt>Events</dt>
            <dd>{run.eventCount}</dd>
          </div>
          <div>
            <dt>Dialect</dt>
            <dd>{run.dialect === "agui" ? "AG-UI" : "workflow"}</dd>
          </div>
        </dl>
        {live && (
          <p class="note">
            This run is still going.{" "}
            <a href={`/?run=${encodeURIComponent(run.id)}`}>Follow it live in the console</a>{" "}
            (approve, reject or abort there), or reload this page.
          </p>
        )}
        {run.error && (
          <p class="alert" role="alert">
            <strong>{run.error.code}</strong> — {run.error.message}
          </p>
        )}
        <div class="run-grid">
          <div class="run-main">
            {summary.length > 0 && (
              <section aria-labelledby="summary-title">
                <h2 id="summary-title">Summary</h2>
                <DomainSummary lines={summary} />
              </section>
            )}
            {view.artifacts.length > 0 && (
              <section aria-labelledby="docs-title">
                <h2 id="docs-title">Documents</h2>
                <div class="docs">
                  {view.artifacts.map((a) => <SafeDocument key={a.name} artifact={a} />)}
                </div>
              </section>
            )}
            <section aria-labelledby="events-title">
              <h2 id="events-title">Timeline</h2>
              {events.length === 0
                ? <p class="muted">No events yet.</p>
                : (
                  <ol class="events events-full">
                    {events.map((e) => (
                      <li key={e.id} class="ev" data-type={e.type}>
                        <span class="ev-seq">#{e.id}</span>
                        <time
                          class="ev-time"
                          dateTime={typeof e.data.ts === "string" ? e.data.ts : undefined}
                        >
                          {clock(e.data.ts)}
                        </time>
                        <code class="ev-type">{e.type}</code>
                        <span class="ev-text">{describeEvent(e, titleOf)}</span>
                      </li>
                    ))}
                  </ol>
                )}
            </section>
          </div>
          <aside class="run-side" aria-label="Steps and approvals">
            {view.steps.length > 0 && (
              <section aria-labelledby="steps-title">
                <h2 id="steps-title">Steps</h2>
                <StepTimeline steps={view.steps} />
              </section>
            )}
            {view.approval && <ApprovalCard approval={view.approval} />}
          </aside>
        </div>
      </main>
    </>
  );
});
