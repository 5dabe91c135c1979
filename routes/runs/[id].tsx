import { page } from "fresh";
import { define } from "../../lib/define.ts";
import { RUN_ID_RE, type RunSummary, type StoredEvent } from "../../lib/events.ts";
import type { RunStore } from "../../lib/runs/store.ts";
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

/** Events per timeline page. */
export const TIMELINE_PAGE = 100;
/**
 * Events the steps, documents and approval are computed from: the first ones (the run's start,
 * its steps and documents in any normal run) and the newest page. A run longer than this is
 * summarized from those two ends, so a page costs the same whatever the run's size.
 */
export const VIEW_HEAD = 500;

interface TimelinePage {
  /** The page's events, oldest first. */
  events: ConsoleEvent[];
  /** `?before=` of the previous (older) page, when there is one. */
  older?: number;
  /** `?before=` of the next (newer) page; 0: the newest page (no parameter). */
  newer?: number;
  /** True when the view was computed from the run's two ends only. */
  partialView: boolean;
}

type RunPageData =
  | { found: false; id: string }
  | { found: true; run: RunSummary; view: RunView; domain?: string; page: TimelinePage };

function parseData(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : { value };
  } catch {
    return { raw: text };
  }
}

const toConsole = (e: StoredEvent): ConsoleEvent => ({
  id: e.seq,
  type: e.type,
  data: parseData(e.data),
});

/** `?before=` as a sequence number (events with a smaller seq are shown); null: the newest. */
function beforeParam(url: URL, count: number): number | null {
  const raw = url.searchParams.get("before");
  if (raw === null || !/^\d{1,15}$/.test(raw)) return null;
  const n = Number(raw);
  return n >= 1 && n <= count ? n : null;
}

/**
 * Reads one page of the timeline and the events the view needs, never the whole log: at most
 * {@link TIMELINE_PAGE} + {@link VIEW_HEAD} + {@link TIMELINE_PAGE} events whatever the run's size.
 */
async function loadPage(
  store: RunStore,
  run: RunSummary,
  before: number | null,
): Promise<{ view: RunView; page: TimelinePage }> {
  const count = run.eventCount;
  const end = before === null ? count : before - 1; // the page's last seq
  const start = Math.max(0, end - TIMELINE_PAGE); // events after this seq
  const pageEvents = (await store.read(run.id, start, end - start)).map(toConsole);
  let source: ConsoleEvent[];
  const partialView = count > VIEW_HEAD + TIMELINE_PAGE;
  if (!partialView) {
    source = start === 0 && end === count
      ? pageEvents
      : (await store.read(run.id, 0)).map(toConsole);
  } else {
    const head = (await store.read(run.id, 0, VIEW_HEAD)).map(toConsole);
    const tail = (await store.read(run.id, count - TIMELINE_PAGE, TIMELINE_PAGE)).map(toConsole);
    source = [...head, ...tail];
  }
  const view = source.reduce((v, e) => applyEvent(v, e, Infinity), emptyRun(run.id));
  return {
    view,
    page: {
      events: pageEvents,
      older: start > 0 ? start + 1 : undefined,
      newer: end < count
        ? (end + TIMELINE_PAGE + 1 > count ? 0 : end + TIMELINE_PAGE + 1)
        : undefined,
      partialView,
    },
  };
}

/**
 * `GET /runs/:id`: one run's timeline from the run log, rendered on the server (no islands, no
 * JavaScript), a page of {@link TIMELINE_PAGE} events at a time (newest first page, `?before=`
 * for older ones). An unknown id gets a 404 page.
 */
export const handler = define.handlers({
  async GET(ctx) {
    const id = ctx.params.id;
    const { store, upstream } = ctx.state.services;
    const run = RUN_ID_RE.test(id) ? await store.get(id) : null;
    if (!run) return page<RunPageData>({ found: false, id }, { status: 404 });
    const { view, page: timeline } = await loadPage(
      store,
      run,
      beforeParam(ctx.url, run.eventCount),
    );
    // The domain only picks the summary's lines; a workflow service that is down costs nothing.
    const domain = await upstream.graphs().then(
      (gs) => gs.find((g) => g.name === run.graph)?.domain,
      () => undefined,
    );
    return page<RunPageData>({ found: true, run, view, domain, page: timeline });
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
export default define.page<typeof handler>(({ data, state }) => {
  if (!data.found) {
    return (
      <>
        <SiteHeader current="runs" signedIn={state.signedIn} />
        <NotFound id={data.id} />
      </>
    );
  }
  const { run, view, domain, page: timeline } = data;
  const { events } = timeline;
  const href = (before: number) =>
    `/runs/${encodeURIComponent(run.id)}${before ? `?before=${before}` : ""}`;
  const titles = new Map(view.steps.map((s) => [s.name, s.title]));
  const titleOf = (step: string) => titles.get(step) ?? humanize(step);
  const live = run.status === "running" || run.status === "waiting_approval";
  const summary = domainSummary(run.graph, view.facts, domain);
  return (
    <>
      <SiteHeader current="runs" signedIn={state.signedIn} />
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
              {events.length > 0 && (
                <p class="muted" data-testid="timeline-range">
                  Events {events[0].id}–{events.at(-1)!.id} of {run.eventCount}
                  {timeline.partialView &&
                    " (steps and documents are drawn from the run's first and newest events)"}
                </p>
              )}
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
              {(timeline.older !== undefined || timeline.newer !== undefined) && (
                <nav class="pager" aria-label="Timeline pages">
                  {timeline.newer !== undefined && (
                    <a class="btn" rel="prev" href={href(timeline.newer)}>Newer events</a>
                  )}{" "}
                  {timeline.older !== undefined && (
                    <a class="btn" rel="next" href={href(timeline.older)}>Earlier events</a>
                  )}
                </nav>
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
