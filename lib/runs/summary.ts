/**
 * THE event → status reducer of a run: which status each workflow event leads to. The relay folds
 * it into the summary it stores with each batch, the AG-UI translator into the state it sends, and
 * the console island into its phase, so all three tell the same story. Browser-safe: no imports
 * beyond the dependency-free event names.
 * @module
 */
import type { RunSummary } from "../events.ts";
import type { RunStatus } from "../event_names.ts";

/** True when a status is final: the run ended. */
export function isFinishedStatus(status: string): boolean {
  return status === "complete" || status === "rejected" || status === "error" ||
    status === "aborted";
}

/** True when a run summary's status is final. */
export function isFinished(run: Pick<RunSummary, "status">): boolean {
  return isFinishedStatus(run.status);
}

/**
 * The status after one event, from `status` (undefined: not known to the caller). An approval
 * gate waits; its decision and a start run; a step that starts does not decide a gate, so it
 * only says "running" when nothing else is known; terminal events end the run. Other events
 * leave the status as it is.
 */
export function statusAfter(
  status: RunStatus | undefined,
  type: string,
  data: { status?: unknown },
): RunStatus | undefined {
  switch (type) {
    case "approval_required":
      return "waiting_approval";
    case "approval_resolved":
    case "workflow_initialized":
      return "running";
    case "step_started":
      return status ?? "running";
    case "workflow_complete":
      return data.status === "rejected" ? "rejected" : "complete";
    case "workflow_error":
      return "error";
    case "workflow_aborted":
      return "aborted";
    default:
      return status;
  }
}

// Pure (no spread either): a bundle that only needs `statusAfter` (the console) leaves it out.
const MOVES_STATUS: ReadonlySet<string> = /* @__PURE__ */ new Set([
  "approval_required",
  "approval_resolved",
  "step_started",
  "workflow_complete",
  "workflow_error",
  "workflow_aborted",
]);

/** The data of events whose status move does not depend on it (read only, never written). */
const NO_DATA: { status?: unknown } = /* @__PURE__ */ Object.freeze({});

/** One event to reduce: its type and its data as JSON text (as the log holds it). */
export interface EventText {
  /** The event type. */
  type: string;
  /** The event data as JSON text. */
  data: string;
}

/**
 * The summary change a batch of events implies, for a writer that does not read the stored
 * summary first: the status as {@link statusAfter} folds it from "unknown", the pending approval,
 * the error and the finish time. Events that do not move the status only count.
 */
export function summaryPatch(batch: readonly EventText[], now: number): Partial<RunSummary> {
  const patch: Partial<RunSummary> = {};
  let status: RunStatus | undefined;
  for (const ev of batch) {
    const t = ev.type;
    if (!MOVES_STATUS.has(t)) continue;
    // Parsed only where the data matters: step_started is the hottest event of all.
    const d = t === "approval_required" || t === "workflow_complete" || t === "workflow_error"
      ? JSON.parse(ev.data)
      : NO_DATA;
    const next = statusAfter(status, t, d);
    // Same status again adds nothing (a step starting while a gate waits leaves the gate).
    if (next === undefined || (next === status && t !== "approval_required")) continue;
    status = next;
    patch.status = next;
    if (next === "waiting_approval") {
      patch.pendingApproval = {
        stepId: String(d.stepId),
        message: String(d.message ?? ""),
        since: new Date(now).toISOString(),
        ...(Array.isArray(d.options) ? { options: d.options.map(String) } : {}),
      };
      continue;
    }
    patch.pendingApproval = undefined;
    if (next === "error") patch.error = { code: String(d.code), message: String(d.message) };
    if (isFinishedStatus(next)) patch.finishedAt = new Date(now).toISOString();
  }
  return patch;
}
