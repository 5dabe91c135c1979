/**
 * LangGraph server stream → workflow vocabulary (the table is in `docs/upstreams.md`). Pure: no
 * I/O; `langgraph.ts` feeds it the frames of `POST /threads/{t}/runs/stream` (or of a join) and
 * reads the run's status back for {@link LangGraphMapper.end}.
 *
 * Ids: every event carries `<langgraph run id>:<langgraph event id>:<n>` (n: its place among
 * the events one frame maps to; 99 for the terminal made at the stream's close), so a rejoin
 * through `GET /threads/{t}/runs/{run}/stream` with `Last-Event-ID` reproduces the same ids and
 * the relay can drop what it already logged. LangGraph run ids are UUIDv7 (time-ordered), which
 * orders ids across the runs of one thread (a start, then one run per decision).
 * @module
 */
import type { SseFrame } from "../../sse/parse.ts";
import type { OutEvent } from "./translate.ts";

/** One upstream id, parsed. */
export interface LangGraphId {
  /** The LangGraph run id. */
  run: string;
  /** The LangGraph event id within the run (`-1`: before its first event). */
  event: number;
  /** The place among the events one frame maps to. */
  n: number;
}

/** The `n` of the terminal event made when a run's stream closes. */
export const TERMINAL_N = 99;

/** Formats an upstream id. */
export function formatId(id: LangGraphId): string {
  return `${id.run}:${id.event}:${id.n}`;
}

/** Parses an upstream id; null when it is not one of ours. */
export function parseId(text: string): LangGraphId | null {
  const m = /^([0-9A-Za-z-]{1,64}):(-?\d{1,15}):(\d{1,3})$/.exec(text);
  if (!m) return null;
  return { run: m[1], event: Number(m[2]), n: Number(m[3]) };
}

/** True when id `a` comes after `b` (run, then event id, then place); unparsable ids never do. */
export function isAfterId(a: string, b: string): boolean {
  const x = parseId(a);
  const y = parseId(b);
  if (!x || !y) return false;
  if (x.run !== y.run) return x.run.toLowerCase() > y.run.toLowerCase();
  if (x.event !== y.event) return x.event > y.event;
  return x.n > y.n;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The namespace of the UUIDv5 thread ids derived from run ids (a fixed random UUID). */
const THREAD_NAMESPACE = "6f1c3a52-7d0e-4b8e-9a51-0c2f1e5d8b47";

/**
 * The LangGraph thread id of a gateway run: the run id itself when it is already a lower-case
 * UUID (the gateway's default), else the UUIDv5 of the run id in a fixed namespace. Any
 * gateway process derives the same id, so no mapping has to be stored.
 */
export async function threadIdOf(runId: string): Promise<string> {
  if (UUID_RE.test(runId)) return runId;
  const ns = THREAD_NAMESPACE.replaceAll("-", "");
  const nsBytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) nsBytes[i] = parseInt(ns.slice(i * 2, i * 2 + 2), 16);
  const name = new TextEncoder().encode(runId);
  const input = new Uint8Array(16 + name.length);
  input.set(nsBytes);
  input.set(name, 16);
  const h = new Uint8Array(await crypto.subtle.digest("SHA-1", input)).slice(0, 16);
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/**
 * An interrupt value as an approval's message and options, whatever its shape: a string; an
 * object with `message`, `question` or `description` (and `options` or `choices`); anything
 * else shown as JSON.
 */
export function approvalText(value: unknown): { message: string; options: string[] } {
  const fallback = ["approve", "reject"];
  if (typeof value === "string") return { message: value, options: fallback };
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const text = [o.message, o.question, o.description].find((v) => typeof v === "string");
    const list = Array.isArray(o.options) ? o.options : Array.isArray(o.choices) ? o.choices : [];
    const options = list.filter((x): x is string => typeof x === "string");
    if (typeof text === "string") {
      return { message: text, options: options.length > 0 ? options : fallback };
    }
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  return { message: json ?? String(value), options: fallback };
}

/** What the mapper needs to know about the run it reads. */
export interface MapperInit {
  /** The gateway's run id (`workflowId` of every event). */
  workflowId: string;
  /** The LangGraph run id, when already known (a join); else learnt from `metadata`. */
  runId?: string;
  /** Set on a run that starts the thread: its `metadata` frame yields this event's data. */
  initialized?: Record<string, unknown>;
  /** Clock (ms since epoch). */
  now?: () => number;
}

/** The run's status as `GET /threads/{t}/runs/{run}` answers it. */
export interface RunRecord {
  /** `pending`, `running`, `success`, `error`, `timeout`, `interrupted`, `cancelled`. */
  status?: string;
  /** The run's request: a decision's run has `command.resume`. */
  kwargs?: { command?: { resume?: unknown } | null };
}

/** Maps one LangGraph run's stream; see the module doc for the ids. */
export interface LangGraphMapper {
  /** Events of one upstream frame. */
  frame(f: SseFrame): OutEvent[];
  /** The LangGraph run id (from the join or the `metadata` frame). */
  readonly runId: string | undefined;
  /** True when the stream will need a terminal made from the run's status at its close. */
  readonly needsStatus: boolean;
  /**
   * The terminal event after the stream's clean close, from the run's status and the thread's
   * final values; null when the run is not finished (pending/running: the stream was cut).
   * `paused`: the run stopped at a gate whose interrupt this stream did not show (a join after
   * it), so its `success` is a pause, not the workflow's end.
   */
  end(run: RunRecord, values: unknown, paused?: boolean): OutEvent[] | null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Creates the mapper of one run's stream. */
export function createLangGraphMapper(init: MapperInit): LangGraphMapper {
  const now = init.now ?? Date.now;
  let runId = init.runId;
  let lastEvent = -1;
  /** Open tasks (started, no result yet): task id → node name, in start order. */
  const open = new Map<string, string>();
  let interrupted = false;
  let terminal = false;
  let failedStep: string | undefined;

  const ev = (n: number, type: string, fields: Record<string, unknown>): OutEvent => ({
    id: formatId({ run: runId ?? "unknown", event: lastEvent, n }),
    type,
    data: { ...fields, workflowId: init.workflowId, ts: new Date(now()).toISOString() },
  });

  function tasks(data: Record<string, unknown>): OutEvent[] {
    const name = typeof data.name === "string" ? data.name : undefined;
    const id = typeof data.id === "string" ? data.id : undefined;
    if (!name || !id || name.startsWith("__")) return [];
    if ("input" in data && !("result" in data) && !("error" in data)) {
      open.set(id, name);
      return [ev(0, "step_started", { step: name })];
    }
    open.delete(id);
    if (data.error !== null && data.error !== undefined) {
      failedStep = name;
      return [];
    }
    // A node that stopped on an interrupt has not completed: approval_required stands for it.
    if (Array.isArray(data.interrupts) && data.interrupts.length > 0) {
      interrupted = true;
      return [];
    }
    return [ev(0, "step_completed", { step: name, result: data.result ?? null })];
  }

  function updates(data: Record<string, unknown>): OutEvent[] {
    const list = data.__interrupt__;
    if (!Array.isArray(list) || list.length === 0) return [];
    interrupted = true;
    // One gate at a time (the gateway's approvals are one per run): the first interrupt.
    const first: Record<string, unknown> = isObject(list[0]) ? list[0] : { value: list[0] };
    const { message, options } = approvalText(first.value);
    const stepId = [...open.values()][0] ??
      (typeof first.id === "string" ? first.id : "interrupt");
    return [ev(0, "approval_required", {
      stepId,
      message,
      options,
      interrupt: { ...(typeof first.id === "string" ? { id: first.id } : {}), value: first.value },
    })];
  }

  function custom(value: unknown): OutEvent[] {
    if (isObject(value) && typeof value.name === "string" && value.name && "content" in value) {
      return [ev(0, "artifact", {
        name: value.name,
        mime: typeof value.mime === "string" && value.mime ? value.mime : "application/json",
        content: value.content,
      })];
    }
    const step = [...open.values()].at(-1);
    return [ev(0, "progress", {
      ...(isObject(value) ? value : { value }),
      ...(step !== undefined ? { step } : {}),
    })];
  }

  return {
    get runId() {
      return runId;
    },
    get needsStatus() {
      return !terminal && !interrupted;
    },
    frame(f) {
      if (terminal) return [];
      if (f.id !== undefined && /^-?\d+$/.test(f.id)) lastEvent = Number(f.id);
      const data = parseJson(f.data);
      switch (f.event) {
        case "metadata": {
          if (isObject(data) && typeof data.run_id === "string") runId ??= data.run_id;
          return init.initialized ? [ev(0, "workflow_initialized", init.initialized)] : [];
        }
        case "tasks":
          return isObject(data) ? tasks(data) : [];
        case "updates":
          return isObject(data) ? updates(data) : [];
        case "custom":
          return custom(data);
        case "error": {
          terminal = true;
          const o = isObject(data) ? data : {};
          const message = typeof o.message === "string"
            ? o.message
            : typeof data === "string"
            ? data
            : "the LangGraph run failed";
          return [ev(0, "workflow_error", {
            code: failedStep !== undefined ? "step_failed" : "upstream_error",
            message,
            retries: 0,
            ...(typeof o.error === "string" ? { error: o.error } : {}),
            ...(failedStep !== undefined ? { step: failedStep } : {}),
          })];
        }
        default:
          return [];
      }
    },
    end(run, values, paused = false) {
      if (terminal || interrupted) return [];
      if (paused && run.status === "success") return [];
      switch (run.status) {
        case "success": {
          terminal = true;
          const resume = run.kwargs?.command?.resume;
          const rejected = isObject(resume) && resume.decision === "reject";
          return [ev(TERMINAL_N, "workflow_complete", {
            status: rejected ? "rejected" : "success",
            result: values ?? null,
          })];
        }
        case "interrupted":
        case "cancelled":
          terminal = true;
          return [ev(TERMINAL_N, "workflow_aborted", { reason: run.status })];
        case "error":
        case "timeout":
          terminal = true;
          return [ev(TERMINAL_N, "workflow_error", {
            code: run.status === "timeout" ? "upstream_timeout" : "upstream_error",
            message: `the LangGraph run ended with status ${run.status}`,
            retries: 0,
          })];
        default:
          return null;
      }
    },
  };
}
