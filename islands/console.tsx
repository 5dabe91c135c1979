import { Component, createRef } from "preact";
import { type StreamRun, streamRun } from "../lib/client/stream_client.ts";
import {
  applyEvent,
  type ConnectionState,
  emptyRun,
  isFinished,
  type RunView,
  statusText,
} from "../lib/console/run_state.ts";
import { WorkflowStreamPanel } from "../components/workflow_stream_panel.tsx";

/** A graph the picker offers. */
export interface ConsoleGraph {
  /** Its id, sent as `graph_name`. */
  name: string;
  /** What the picker shows. */
  title: string;
  /** Its domain (`hospitality`, …): sent as `app_context.appType`; picks the summary. */
  domain: string;
}

/** An example prompt and the graph it is meant for. */
export interface ConsoleExample {
  /** The graph's name; clicking the chip picks it. */
  graph: string;
  /** The prompt's text, the chip's label; clicking it fills the prompt box. */
  prompt: string;
}

/** Props of the console island. */
export interface ConsoleProps {
  /** The workflow service's graphs (read by the server at render time). */
  graphs: ConsoleGraph[];
  /** Example prompts shown as chips. */
  examples: ConsoleExample[];
  /**
   * The gateway's `HEARTBEAT_MS`: three of them without a byte mean a dead connection. Absent:
   * the client's default (15 s, the largest the gateway allows).
   */
  heartbeatMs?: number;
}

interface ConsoleState {
  graph: string;
  prompt: string;
  view: RunView | null;
  conn: ConnectionState;
  signedOut: boolean;
  /** The action in flight: `approve`, `reject` or `abort`. */
  busy: string;
  /** Why the last action failed. */
  problem: string;
  /** True once mounted in the browser (`data-ready` tells tests and scripts it is live). */
  ready?: boolean;
  /** A run that "Start new run" left waiting for approval (it goes on waiting on the server). */
  left?: string;
}

/**
 * The copilot sidebar: graph picker, prompt box, example prompts and the live
 * WorkflowStreamPanel. One run at a time; its id goes into `?run=` so a reload re-attaches.
 * A class component: it keeps `preact/hooks` out of the page's JavaScript (the budget is 15 KB).
 */
export default class Console extends Component<ConsoleProps, ConsoleState> {
  #run: StreamRun | null = null;
  #box = createRef<HTMLTextAreaElement>();
  /** The approval last scrolled into view (each card once, when it appears). */
  #shown?: object;
  /** Where focus goes once that element exists: the button pressed is disabled or gone. */
  #focus = "";

  /** Starts with the first graph picked, an empty prompt and no run. */
  constructor(props: ConsoleProps) {
    super(props);
    this.state = {
      graph: props.graphs[0]?.name ?? "",
      prompt: "",
      view: null,
      conn: "idle",
      signedOut: false,
      busy: "",
      problem: "",
    };
  }

  /** Re-attaches to the run named in `?run=` (a reload, or a link from the run page). */
  override componentDidMount(): void {
    this.setState({ ready: true });
    const id = new URLSearchParams(location.search).get("run");
    if (id) this.start(id);
  }

  /**
   * Brings a new approval card into view (the sidebar scrolls; focus stays where it is) and
   * moves focus to the decision or the status line after Approve, Reject or Abort, unless the
   * person has already put it somewhere else outside the panel.
   */
  override componentDidUpdate(): void {
    const find = (sel: string) => this.base && (this.base as Element).querySelector(sel);
    const approval = this.state.view?.approval;
    if (approval && !approval.decision && approval !== this.#shown) {
      this.#shown = approval;
      find(".approval")?.scrollIntoView({ block: "nearest" });
    }
    const target = this.#focus && find(this.#focus) as HTMLElement | null;
    if (target) {
      const now = document.activeElement;
      if (!now || now === document.body || now.closest(".panel")) target.focus();
      this.#focus = "";
    }
  }

  /** Stops reading; the run itself goes on on the server. */
  override componentWillUnmount(): void {
    this.#run?.close();
  }

  /** Starts a run from the form, or attaches to `attachTo`. */
  start(attachTo?: string): void {
    this.#run?.close();
    this.#focus = "";
    const { graph, prompt, view } = this.state;
    // The client reports its first status synchronously, before `streamRun` has returned.
    let r: StreamRun | undefined = undefined;
    r = streamRun({
      runId: attachTo,
      body: attachTo ? undefined : {
        graph_name: graph,
        initial_state: {
          prompt: prompt.trim(),
          app_context: {
            appType: this.props.graphs.find((g) => g.name === graph)?.domain,
            currentPage: "console",
          },
        },
      },
      heartbeatMs: this.props.heartbeatMs,
      onEvent: (ev) => {
        if (!r || this.#run !== r) return;
        const runId = r.runId;
        this.setState((s) => ({
          view: applyEvent(s.view ?? emptyRun(runId), ev),
          signedOut: s.signedOut || (ev.type === "workflow_error" && ev.data.status === 401),
          busy: ev.type === "workflow_aborted" ? "" : s.busy,
        }));
      },
      onStatus: (conn) => {
        if (r && this.#run === r) this.setState({ conn });
      },
    });
    this.#run = r;
    this.setState({
      view: emptyRun(r.runId),
      conn: "connecting",
      signedOut: false,
      busy: "",
      problem: "",
      // Leaving a run at its approval gate is allowed, but never silently.
      left: view?.phase === "waiting" ? view.runId : this.state.left,
    });
    history.replaceState(null, "", `?run=${encodeURIComponent(r.runId)}`);
  }

  /**
   * Sends `what` (`approve`, `reject` or `abort`) through `send` for the current run: busy
   * meanwhile, focus then on the decision or the status line, the gateway's refusal shown.
   */
  async act(
    what: string,
    send: (r: StreamRun) => Promise<{ ok: boolean; message?: string }>,
  ): Promise<void> {
    const r = this.#run;
    if (!r) return;
    // The pressed button is disabled now and gone soon: focus the record of what happened.
    this.#focus = what === "abort" ? ".status" : ".decision";
    this.setState({ busy: what, problem: "" });
    const res = await send(r);
    if (this.#run !== r) return;
    // An accepted abort stays busy until `workflow_aborted` arrives.
    if (!res.ok || what !== "abort") this.setState({ busy: "" });
    if (!res.ok) this.setState({ problem: res.message ?? "The gateway did not accept that." });
  }

  /** The composer (graph picker, prompt box, example chips), its notes and the run's panel. */
  override render() {
    const { graphs, examples } = this.props;
    const { graph, prompt, view: v, conn, signedOut, busy, problem, ready, left } = this.state;
    const active = v !== null && !isFinished(v.phase) && conn !== "closed";
    const domainOf = (name?: string) => graphs.find((g) => g.name === name)?.domain;
    return (
      <div class="console" data-ready={ready}>
        {/* Disabled until hydrated: without JavaScript the form would only reload the page. */}
        <fieldset class="compose" disabled={!ready}>
          <form
            class="composer"
            onSubmit={(e) => {
              e.preventDefault();
              if (prompt.trim() && graph) this.start();
            }}
          >
            <label for="graph">Workflow</label>
            <select
              id="graph"
              name="graph_name"
              value={graph}
              onChange={(e) => this.setState({ graph: e.currentTarget.value })}
            >
              {graphs.map((g) => <option key={g.name} value={g.name}>{g.title}</option>)}
            </select>
            <label for="prompt">Request</label>
            <textarea
              id="prompt"
              name="prompt"
              ref={this.#box}
              rows={3}
              required
              placeholder="Create a hotel reservation for John Doe"
              value={prompt}
              onInput={(e) => this.setState({ prompt: e.currentTarget.value })}
              onKeyDown={(e) => {
                // Enter sends, Shift+Enter is a new line (as in chat tools).
                if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
                  e.preventDefault();
                  e.currentTarget.form?.requestSubmit();
                }
              }}
            />
            <div class="row">
              <button type="submit" class="btn primary" disabled={!graphs.length}>
                {active ? "Start new run" : "Run workflow"}
              </button>
              <span class="hint">Enter to run · Shift+Enter for a new line</span>
            </div>
          </form>

          {!v && examples.length > 0 && (
            <div class="examples" role="group" aria-label="Example prompts">
              {examples.map((ex) => (
                <button
                  key={ex.prompt}
                  type="button"
                  class="chip-btn"
                  onClick={() => {
                    this.setState({ graph: ex.graph, prompt: ex.prompt });
                    this.#box.current?.focus();
                  }}
                >
                  {ex.prompt}
                </button>
              ))}
            </div>
          )}
        </fieldset>

        {left && (
          <p class="note" role="status">
            You left a run waiting for approval:{" "}
            <a href={`/runs/${encodeURIComponent(left)}`}>open it in Runs</a>.
          </p>
        )}

        {signedOut && (
          <p class="note" role="alert">
            Your session has ended: <a href="/login">sign in again</a>.
          </p>
        )}

        {v && (
          <WorkflowStreamPanel
            view={v}
            status={statusText(v, conn)}
            domain={domainOf(v.graph) ?? domainOf(graph)}
            onDecide={(d, c) =>
              this.act(d, (r) => r.approve(v.approval!.stepId, d, c || undefined))}
            onAbort={() => this.act("abort", (r) => r.abort())}
            busy={busy}
            problem={problem}
          />
        )}
      </div>
    );
  }
}
