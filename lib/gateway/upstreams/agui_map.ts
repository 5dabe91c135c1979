/**
 * AG-UI agent events → workflow vocabulary (the table is in `docs/upstreams.md`). Pure: no I/O.
 *
 * Every upstream AG-UI event is logged as exactly one workflow event (or folded into the
 * next one: an interrupt's `CUSTOM on_interrupt` into the `approval_required` its RUN_FINISHED
 * makes), with the original event, unchanged, under the reserved data key {@link AGUI_KEY}: the
 * AG-UI dialect sends that original to AG-UI clients, so one log serves both dialects.
 * @module
 */
import type { SseFrame } from "../../sse/parse.ts";
import { approvalText } from "./langgraph_map.ts";
import type { OutEvent } from "./translate.ts";

/** The reserved data key that holds the upstream's original AG-UI event. */
export const AGUI_KEY = "agui";
/** The workflow event type of AG-UI events with no workflow meaning (messages, state, raw …). */
export const AGUI_EVENT_TYPE = "agui";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** What the mapper needs to know about the AG-UI run it reads. */
export interface AguiMapperInit {
  /** The gateway's run id (`workflowId` of every event). */
  workflowId: string;
  /** The graph name the gateway knows the run by. */
  graph: string;
  /** The run's input (a start), or undefined for a resume. */
  input?: Record<string, unknown>;
  /** The id prefix of this upstream run's events (orders runs of one thread). */
  idPrefix: string;
  /** Clock (ms since epoch). */
  now?: () => number;
}

/** One interrupt the agent stopped on. */
interface PendingInterrupt {
  id?: string;
  value: unknown;
  message?: string;
}

/** Maps one AG-UI run's stream. */
export interface AguiMapper {
  /** The workflow events of one upstream frame (an AG-UI event as `data:`). */
  frame(f: SseFrame): OutEvent[];
  /** True once a terminal or an approval went out. */
  readonly settled: boolean;
  /** The events after the upstream's end: `workflow_error upstream_ended` if nothing ended it. */
  end(): OutEvent[];
  /** The terminal after an abort the gateway asked for. */
  aborted(): OutEvent[];
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Creates the mapper of one AG-UI run (one POST). */
export function createAguiMapper(init: AguiMapperInit): AguiMapper {
  const now = init.now ?? Date.now;
  let n = 0;
  let settled = false;
  /** The last step the agent started (it reports an interrupt after finishing that step). */
  let step: string | undefined;
  let lastState: unknown;
  let pending: PendingInterrupt[] = [];

  const ev = (type: string, fields: Json, original?: Json): OutEvent => ({
    id: `${init.idPrefix}:${n++}`,
    type,
    data: {
      ...fields,
      ...(original ? { [AGUI_KEY]: original } : {}),
      workflowId: init.workflowId,
      ts: new Date(now()).toISOString(),
    },
  });

  function approval(original: Json): OutEvent[] {
    const first = pending[0];
    settled = true;
    const { message, options } = approvalText(first.value);
    return [ev("approval_required", {
      // The interrupt's id is what a decision must name to the agent, from any gateway process.
      stepId: first.id ?? step ?? "interrupt",
      message: first.message ?? message,
      options,
      ...(step !== undefined ? { step } : {}),
      interrupt: { ...(first.id ? { id: first.id } : {}), value: first.value },
    }, original)];
  }

  function map(e: Json): OutEvent[] {
    switch (e.type) {
      case "RUN_STARTED":
        if (init.input !== undefined && n === 0) {
          return [ev("workflow_initialized", {
            graph: init.graph,
            title: init.graph,
            input: init.input,
          }, e)];
        }
        return [ev(AGUI_EVENT_TYPE, {}, e)];
      case "STEP_STARTED":
        if (typeof e.stepName !== "string" || !e.stepName) break;
        step = e.stepName;
        return [ev("step_started", { step: e.stepName }, e)];
      case "STEP_FINISHED":
        if (typeof e.stepName !== "string" || !e.stepName) break;
        return [ev("step_completed", { step: e.stepName, result: null }, e)];
      case "STATE_SNAPSHOT":
        lastState = e.snapshot;
        break;
      case "CUSTOM":
        if (e.name === "on_interrupt") {
          // The legacy interrupt signal: its value is the interrupt value as JSON text.
          const raw = isObject(e.rawEvent) ? e.rawEvent : {};
          const value = typeof e.value === "string" ? parse(e.value) ?? e.value : e.value;
          pending.push({ id: typeof raw.id === "string" ? raw.id : undefined, value });
        }
        break;
      case "TEXT_MESSAGE_END":
      case "MESSAGES_SNAPSHOT":
        return [ev("message", messageFields(e), e)];
      case "RUN_FINISHED": {
        const outcome = isObject(e.outcome) ? e.outcome : undefined;
        if (outcome?.type === "interrupt" && Array.isArray(outcome.interrupts)) {
          pending = outcome.interrupts.filter(isObject).map((i) => ({
            id: typeof i.id === "string" ? i.id : undefined,
            value: isObject(i.metadata) && isObject(i.metadata.langgraph)
              ? i.metadata.langgraph.raw
              : i,
            message: typeof i.message === "string" ? i.message : undefined,
          }));
        }
        if (pending.length > 0) return approval(e);
        settled = true;
        return [ev("workflow_complete", {
          status: "success",
          result: e.result !== undefined ? e.result : lastState ?? null,
        }, e)];
      }
      case "RUN_ERROR":
        settled = true;
        return [ev("workflow_error", {
          code: typeof e.code === "string" && e.code ? e.code : "agent_error",
          message: typeof e.message === "string" ? e.message : "the agent failed",
          retries: 0,
        }, e)];
    }
    return [ev(AGUI_EVENT_TYPE, {}, e)];
  }

  /** Text of the messages the event carries, for the console (the original stays whole). */
  function messageFields(e: Json): Json {
    if (e.type === "MESSAGES_SNAPSHOT" && Array.isArray(e.messages)) {
      const messages = e.messages.filter(isObject).map((m) => ({
        id: m.id,
        role: String(m.role ?? "assistant"),
        content: typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? ""),
      }));
      // The console shows `role: text`: the snapshot's last message.
      const last = messages.at(-1);
      return { role: last?.role ?? "assistant", text: last?.content ?? "", messages };
    }
    const text = texts.get(String(e.messageId)) ?? "";
    texts.delete(String(e.messageId));
    return { messageId: e.messageId, role: roles.get(String(e.messageId)) ?? "assistant", text };
  }
  const texts = new Map<string, string>();
  const roles = new Map<string, string>();

  return {
    get settled() {
      return settled;
    },
    frame(f) {
      if (settled) return [];
      const e = parse(f.data);
      if (!isObject(e) || typeof e.type !== "string") return [];
      if (e.type === "TEXT_MESSAGE_START") roles.set(String(e.messageId), String(e.role ?? ""));
      if (e.type === "TEXT_MESSAGE_CONTENT" && typeof e.delta === "string") {
        const id = String(e.messageId);
        texts.set(id, (texts.get(id) ?? "") + e.delta);
      }
      return map(e);
    },
    end() {
      if (settled) return [];
      settled = true;
      return [ev("workflow_error", {
        code: "upstream_ended",
        message: "the AG-UI agent ended its stream without RUN_FINISHED or RUN_ERROR",
        retries: 0,
      })];
    },
    aborted() {
      if (settled) return [];
      settled = true;
      return [ev("workflow_aborted", { reason: "aborted by the gateway" })];
    },
  };
}
