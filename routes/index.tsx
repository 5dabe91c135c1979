import { page } from "fresh";
import { define } from "../lib/define.ts";
import type { GraphInfo } from "../lib/events.ts";
import Console, { type ConsoleExample } from "../islands/console.tsx";
import { SiteHeader } from "../components/site_header.tsx";

/** The prompt every demo starts with; it belongs to the hotel graph. */
const HOTEL_EXAMPLE: ConsoleExample = {
  graph: "hotel_o2c",
  prompt: "Create a hotel reservation for John Doe",
};

interface ConsoleData {
  graphs: GraphInfo[];
  /** Why the graph list could not be read (the workflow service is down or refused). */
  graphsError?: string;
}

/** `GET /`: reads the workflow service's graphs at render time, for the picker and the catalog. */
export const handler = define.handlers({
  async GET(ctx) {
    try {
      return page<ConsoleData>({ graphs: await ctx.state.services.upstream.graphs() });
    } catch (err) {
      ctx.state.services.logger.warn("console: graph list unavailable", { error: err });
      // The reason is logged above; the page says only that the list is missing.
      const graphsError = "no list of workflows";
      return page<ConsoleData>({ graphs: [], graphsError });
    }
  },
});

/** One example per graph: the classic hotel prompt, else the graph's own example. */
function examplesFor(graphs: GraphInfo[]): ConsoleExample[] {
  return graphs.flatMap((g) =>
    g.name === HOTEL_EXAMPLE.graph
      ? [HOTEL_EXAMPLE]
      : g.example_prompt
      ? [{ graph: g.name, prompt: g.example_prompt }]
      : []
  );
}

/**
 * The console: a catalog of workflows (static HTML) and the copilot sidebar (the only island)
 * with the prompt box, graph picker, examples and the live WorkflowStreamPanel.
 */
export default define.page<typeof handler>(({ data, state }) => {
  const { graphs, graphsError } = data;
  return (
    <>
      <SiteHeader current="console" signedIn={state.signedIn} />
      <div class="console-layout">
        <aside class="sidebar" aria-label="Workflow copilot">
          <div class="sidebar-head">
            <h2>Copilot</h2>
            <p>Describe a job; the workflow runs and streams here.</p>
          </div>
          <Console
            graphs={graphs.map(({ name, title, domain }) => ({ name, title, domain }))}
            examples={examplesFor(graphs)}
            heartbeatMs={state.services.config.HEARTBEAT_MS}
          />
          {/* Static, so it costs the island nothing; CSS hides it once a run's panel exists. */}
          <div class="empty">
            <p class="empty-title">No run yet</p>
            <p>Pick a workflow, describe the job, and watch each step stream in here.</p>
          </div>
          <noscript>
            <p class="alert">
              The live panel needs JavaScript. Past runs stay readable under{" "}
              <a href="/runs">Runs</a>.
            </p>
          </noscript>
        </aside>
        <main class="workspace" id="main">
          <section class="hero">
            <p class="eyebrow">Workflow Stream</p>
            <h1>Run business workflows and watch every step as it happens.</h1>
            <p class="lead">
              Each run streams its steps, approvals and documents over Server-Sent Events. Dropped
              connections resume where they left off; approvals can come from anyone, anywhere.
            </p>
          </section>
          <section aria-labelledby="catalog-title">
            <h2 id="catalog-title">Available workflows</h2>
            {graphsError
              ? (
                <p class="alert" role="alert">
                  The workflow service is not reachable right now ({graphsError}). Try again in a
                  moment.
                </p>
              )
              : (
                <ul class="cards">
                  {graphs.map((g) => (
                    <li key={g.name} class="card">
                      <span class="badge">{g.domain}</span>
                      <h3>{g.title}</h3>
                      <p>{g.description}</p>
                      {g.example_prompt && <p class="quote">“{g.example_prompt}”</p>}
                      <code class="card-name">{g.name}</code>
                    </li>
                  ))}
                </ul>
              )}
          </section>
          <section aria-labelledby="how-title">
            <h2 id="how-title">How a run works</h2>
            <ol class="how">
              <li>
                <strong>Start</strong>
                <span>Pick a workflow and describe the job in plain words.</span>
              </li>
              <li>
                <strong>Follow</strong>
                <span>Steps, documents and events appear live in the panel.</span>
              </li>
              <li>
                <strong>Decide</strong>
                <span>Approve or reject at the approval gate; the run continues.</span>
              </li>
              <li>
                <strong>Review</strong>
                <span>Every run keeps its full timeline under Runs.</span>
              </li>
            </ol>
          </section>
        </main>
      </div>
    </>
  );
});
