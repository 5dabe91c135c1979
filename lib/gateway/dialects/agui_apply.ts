/**
 * The AG-UI dialect's state handling: reading a run log event (its data, its timestamp, an AG-UI
 * upstream's original event) and applying it to the run's AG-UI state, for the translator in
 * `agui.ts` (the mapping table is in docs/architecture.md, "Dialects"). Run statuses come from
 * the shared reducer (`statusAfter`).
 * @module
 */
import { ERROR_CODES } from "../../events.ts";
import { statusAfter } from "../../runs/summary.ts";
import { encodeInterruptId } from "./agui_input.ts";
import {
  type AguiPendingApproval,
  type AguiRunState,
  stateKey,
  type StateRecorder,
} from "./agui_state.ts";

/** A workflow event's data, parsed. */
export type EventData = Record<string, unknown>;

/** What a workflow event means on the AG-UI side (anything else is forwarded as CUSTOM). */
export type AguiEffect =
  | "initialized"
  | "step_started"
  | "step_completed"
  | "interrupt"
  | "complete"
  | "error"
  | "aborted"
  | "custom";

/** A log event's data as an object; `raw` is the text when it is not a JSON object. */
export function parseEventData(text: string): { data: EventData; raw?: string } {
  try {
    const v = JSON.parse(text);
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return { data: v as EventData };
  } catch {
    // fall through: a CUSTOM event then carries the text as it is
  }
  return { data: {}, raw: text };
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The event's `ts` as epoch milliseconds, when it has a usable one. */
export function timestampOf(data: EventData): number | undefined {
  const ts = data.ts;
  const ms = typeof ts === "number" ? ts : typeof ts === "string" ? Date.parse(ts) : NaN;
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * The reserved data key under which an AG-UI upstream's original event is logged (see
 * `lib/gateway/upstreams/agui_map.ts`): such events pass to AG-UI clients unchanged.
 */
export const AGUI_ORIGINAL_KEY = "agui";

/** The AG-UI upstream's original event logged in `data`, if it is one. */
export function originalOf(data: EventData): EventData | undefined {
  const o = data[AGUI_ORIGINAL_KEY];
  return typeof o === "object" && o !== null && !Array.isArray(o) &&
      typeof (o as EventData).type === "string"
    ? o as EventData
    : undefined;
}

function stringList(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out = v.filter((x): x is string => typeof x === "string");
  return out.length > 0 ? out : undefined;
}

/** The workflow run an event belongs to: its `workflowId`, else the state's, else `fallback`. */
export function logRunIdOf(data: EventData, state: AguiRunState, fallback: string): string {
  return str(data.workflowId) ?? state.runId ?? fallback;
}

function pendingFrom(data: EventData, runId: string): AguiPendingApproval | undefined {
  const stepId = str(data.stepId);
  if (!stepId) return undefined;
  const p: AguiPendingApproval = {
    interruptId: encodeInterruptId(runId, stepId),
    stepId,
    message: typeof data.message === "string" ? data.message : "",
  };
  const options = stringList(data.options);
  if (options) p.options = options;
  return p;
}

/**
 * Applies one workflow event to `state` through its recorder `rec`. Returns what the event is
 * for the AG-UI side, so the translator knows which events to add around the delta.
 * `fallbackRunId` names the run when neither the event nor the state does.
 */
export function applyWorkflowEvent(
  state: AguiRunState,
  rec: StateRecorder,
  type: string,
  data: EventData,
  fallbackRunId: string,
): AguiEffect {
  const setStatus = () => rec.set(["status"], statusAfter(state.status, type, data));
  switch (type) {
    case "workflow_initialized": {
      const graph = str(data.graph);
      if (graph) rec.set(["graph"], graph);
      const id = str(data.workflowId);
      if (id) rec.set(["runId"], id);
      setStatus();
      return "initialized";
    }
    case "step_started": {
      const step = str(data.step);
      if (!step) return "custom";
      rec.set(["steps", stateKey(step)], { status: "running" });
      return "step_started";
    }
    case "step_completed": {
      const step = str(data.step);
      if (!step) return "custom";
      rec.set(["steps", stateKey(step)], { status: "done", result: data.result });
      return "step_completed";
    }
    case "artifact": {
      const name = str(data.name);
      if (!name) return "custom";
      rec.set(["artifacts", stateKey(name)], {
        mime: str(data.mime) ?? "application/octet-stream",
        content: data.content,
      });
      return "custom";
    }
    case "approval_required": {
      const pending = pendingFrom(data, logRunIdOf(data, state, fallbackRunId));
      if (!pending) return "custom";
      rec.set(["pendingApproval"], pending);
      setStatus();
      return "interrupt";
    }
    case "approval_resolved": {
      const stepId = str(data.stepId);
      const decision = data.decision;
      if (!stepId || (decision !== "approve" && decision !== "reject")) return "custom";
      rec.remove(["pendingApproval"]);
      rec.set(["approvals", stateKey(stepId)], {
        decision,
        comment: typeof data.comment === "string" ? data.comment : undefined,
      });
      setStatus();
      return "custom";
    }
    case "workflow_complete": {
      rec.remove(["pendingApproval"]);
      setStatus();
      rec.set(["result"], data.result);
      return "complete";
    }
    case "workflow_error": {
      rec.remove(["pendingApproval"]);
      setStatus();
      rec.set(["error"], {
        code: str(data.code) ?? ERROR_CODES.upstreamError,
        message: typeof data.message === "string" ? data.message : "workflow error",
      });
      return "error";
    }
    case "workflow_aborted": {
      rec.remove(["pendingApproval"]);
      setStatus();
      return "aborted";
    }
    default:
      return "custom";
  }
}
