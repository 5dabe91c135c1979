/**
 * What the console knows about one run, rebuilt from its events: the step timeline, the pending
 * approval, the documents, the facts a domain summary reads and the last rows of the event log.
 * Pure functions over plain data, shared by the live panel (fed by the stream client) and the
 * server-rendered run page (fed by the run log), so both tell the same story.
 * @module
 */
import { type RunStatus, UPSTREAM_HEARTBEAT_TYPES } from "../event_names.ts";
import { isFinishedStatus, statusAfter } from "../runs/summary.ts";

/** One event as the console receives it (the stream client's `StreamEvent`). */
export interface ConsoleEvent {
  /** The run's sequence number; 0 for events the client made itself. */
  id: number;
  /** The event type. */
  type: string;
  /** The event's data. */
  data: Record<string, unknown>;
}

/** A row of the event log: the event and a key that stays unique (synthetic events have id 0). */
export interface EventRowData {
  /** Unique row key: the event id, or a negative counter for synthetic events. */
  key: number;
  /** The event shown in the row. */
  event: ConsoleEvent;
}

/** A step's state in the timeline. */
export type StepState = "pending" | "running" | "waiting" | "done" | "skipped" | "failed";

/** One step of the timeline. */
export interface StepView {
  /** The step's name (its id in the workflow). */
  name: string;
  /** The step's display title; the name when the workflow gave none. */
  title: string;
  /** Where the step is. */
  state: StepState;
}

/** Where the run is, as far as its events tell. */
export type Phase = "idle" | "running" | "waiting" | "complete" | "rejected" | "error" | "aborted";

/** The approval gate the run stopped at, and the decision once one was recorded. */
export interface ApprovalView {
  /** The gate step that asked for the decision. */
  stepId: string;
  /** The question the gate asks; empty when its event was not seen. */
  message: string;
  /** The decision, once one was recorded. */
  decision?: "approve" | "reject";
  /** The approver's comment on the decision, if any. */
  comment?: string;
}

/** A document the run produced (the latest one of each name). */
export interface ArtifactView {
  /** The artifact's name; a newer artifact of the same name replaces it. */
  name: string;
  /** The artifact's MIME type; empty when the event gave none. */
  mime: string;
  /** The artifact's content as the event carried it. */
  content: unknown;
}

/** The whole view of a run. Treat it as immutable: `applyEvent` returns a new one. */
export interface RunView {
  /** The run id. */
  runId: string;
  /** The graph, from `workflow_initialized`. */
  graph?: string;
  /** The workflow's title, from `workflow_initialized`. */
  title?: string;
  /** Where the run is. */
  phase: Phase;
  /** The newest rows (at most `maxRows`), oldest first. */
  rows: EventRowData[];
  /** How many older rows were let go to keep memory bounded. */
  dropped: number;
  /** The workflow's steps, in order, with their state. */
  steps: StepView[];
  /** The approval gate the run waits at or last passed. */
  approval?: ApprovalView;
  /** The documents produced, latest of each name. */
  artifacts: ArtifactView[];
  /** Everything the run's inputs, step results and result said, merged (newest wins). */
  facts: Record<string, unknown>;
  /** The run's result, from `workflow_complete`. */
  result?: unknown;
  /** Why the run failed; `status` is the HTTP status the client last got, when it gave up on one. */
  error?: { message: string; code?: string; status?: number };
  /** The last `workflow_reconnecting` the client reported, until a real event arrives. */
  reconnect?: { attempt: number; maxRetries: number };
  /** Counter behind the row keys of synthetic events. */
  synthetic: number;
}

/** A view with nothing in it yet. */
export function emptyRun(runId: string): RunView {
  return {
    runId,
    phase: "idle",
    rows: [],
    dropped: 0,
    steps: [],
    artifacts: [],
    facts: {},
    synthetic: 0,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** True for a phase that ends the run (the phases that end a run are the final statuses). */
export const isFinished: (phase: Phase) => boolean = isFinishedStatus;

function settle(steps: StepView[], running: StepState): StepView[] {
  return steps.map((s) =>
    s.state === "pending"
      ? { ...s, state: "skipped" }
      : s.state === "running" || s.state === "waiting"
      ? { ...s, state: running }
      : s
  );
}

function setStep(steps: StepView[], name: string, state: StepState): StepView[] {
  return steps.some((s) => s.name === name)
    ? steps.map((s) => (s.name === name ? { ...s, state } : s))
    : [...steps, { name, title: name, state }];
}

/** A run that ended can no longer be approved: an undecided approval card would only mislead. */
function dropOpenApproval(v: RunView): void {
  if (!v.approval?.decision) v.approval = undefined;
}

/**
 * Folds one event into the view. Heartbeats are ignored; unknown types only add a row. At most
 * `maxRows` rows are kept (20 in the live panel, `Infinity` on the run page).
 */
export function applyEvent(view: RunView, event: ConsoleEvent, maxRows = 20): RunView {
  const { type, data } = event;
  if (UPSTREAM_HEARTBEAT_TYPES.has(type)) return view;
  const v: RunView = { ...view };
  const key = event.id || -++v.synthetic;
  const rows = [...view.rows, { key, event }];
  const extra = rows.length - maxRows;
  v.rows = extra > 0 ? rows.slice(extra) : rows;
  v.dropped += Math.max(0, extra);
  if (event.id) v.reconnect = undefined;
  if (v.phase === "idle") v.phase = "running";
  // The run's status as the shared reducer tells it ("waiting" is the console's word for it).
  const status = statusAfter(v.phase as RunStatus, type, data);
  v.phase = status === "waiting_approval" ? "waiting" : status as Phase;
  const merge = (o: unknown) => {
    if (isObject(o)) v.facts = { ...v.facts, ...o };
  };

  switch (type) {
    case "workflow_initialized": {
      v.graph = text(data.graph);
      v.title = text(data.title);
      if (Array.isArray(data.steps)) {
        v.steps = data.steps.filter(isObject).map((s) => ({
          name: String(s.name),
          title: text(s.title) ?? String(s.name),
          state: "pending",
        }));
      }
      merge(data.input);
      break;
    }
    case "step_started":
      v.steps = setStep(v.steps, String(data.step), "running");
      break;
    case "step_completed":
      v.steps = setStep(v.steps, String(data.step), "done");
      merge(data.result);
      break;
    case "approval_required": {
      const stepId = String(data.stepId);
      v.steps = setStep(v.steps, stepId, "waiting");
      v.approval = { stepId, message: text(data.message) ?? "" };
      break;
    }
    case "approval_resolved": {
      const stepId = String(data.stepId);
      const decision = data.decision === "reject" ? "reject" : "approve";
      v.approval = {
        stepId,
        message: v.approval?.stepId === stepId ? v.approval.message : "",
        decision,
        comment: text(data.comment),
      };
      v.steps = setStep(v.steps, stepId, "done");
      break;
    }
    case "artifact": {
      const doc = { name: String(data.name), mime: String(data.mime ?? ""), content: data.content };
      v.artifacts = [...view.artifacts.filter((a) => a.name !== doc.name), doc];
      merge(data.content);
      break;
    }
    case "workflow_complete":
      v.result = data.result;
      v.steps = settle(v.steps, "done");
      if (v.phase === "complete") merge(data.result);
      break;
    case "workflow_error":
      v.error = { message: text(data.message) ?? "unknown error", code: text(data.code) };
      if (typeof data.status === "number") v.error.status = data.status;
      v.steps = settle(v.steps, "failed");
      dropOpenApproval(v);
      break;
    case "workflow_aborted":
      v.steps = settle(v.steps, "skipped");
      dropOpenApproval(v);
      break;
    case "workflow_reconnecting":
      v.reconnect = { attempt: Number(data.attempt), maxRetries: Number(data.maxRetries) };
      break;
  }
  return v;
}

/** The connection states the status line distinguishes (the stream client's, plus `idle`). */
export type ConnectionState =
  | "idle"
  | "connecting"
  | "streaming"
  | "reconnecting"
  | "offline"
  | "closed";

/**
 * The status line: `connecting`, `streaming`, `waiting for approval`, `reconnecting 1/3`,
 * `offline`, `complete`, `rejected`, `error`, `aborted` (or `ready` before any run).
 */
export function statusText(view: RunView, conn: ConnectionState): string {
  if (isFinished(view.phase)) return view.phase;
  if (conn === "reconnecting") {
    const r = view.reconnect;
    return r ? `reconnecting ${r.attempt}/${r.maxRetries}` : "reconnecting";
  }
  if (conn === "offline") return "offline";
  if (conn === "connecting" || (conn === "idle" && view.phase !== "idle")) return "connecting";
  if (conn === "idle") return "ready";
  return view.phase === "waiting" ? "waiting for approval" : "streaming";
}
