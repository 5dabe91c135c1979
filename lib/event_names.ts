/**
 * Event names of the workflow vocabulary, with no dependencies so the browser bundle can use them
 * (the zod schemas live in `lib/events.ts` and stay on the server).
 * @module
 */

/** Every event type the workflow vocabulary defines (docs/architecture.md, "Dialects"). */
export const WORKFLOW_EVENT_TYPES = [
  "workflow_initialized",
  "workflow_reconnecting",
  "step_started",
  "step_completed",
  "approval_required",
  "approval_resolved",
  "artifact",
  "workflow_complete",
  "workflow_error",
  "workflow_aborted",
] as const;

/** A known workflow event type. */
export type WorkflowEventType = typeof WORKFLOW_EVENT_TYPES[number];

/** The event types that end a run: exactly one of them closes every run. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set([
  "workflow_complete",
  "workflow_error",
  "workflow_aborted",
]);

/** True when `type` ends a run. */
export function isTerminalType(type: string): boolean {
  return TERMINAL_EVENT_TYPES.has(type);
}

/** Upstream keep-alive event names; the gateway drops them and sends its own comments. */
export const UPSTREAM_HEARTBEAT_TYPES: ReadonlySet<string> = new Set(["heartbeat", "ping"]);

/** The run statuses a run summary can hold. */
export const RUN_STATUSES = [
  "running",
  "waiting_approval",
  "complete",
  "rejected",
  "error",
  "aborted",
] as const;

/** A run's status. */
export type RunStatus = typeof RUN_STATUSES[number];

/** Error codes the gateway puts in `workflow_error.code`. */
export const ERROR_CODES = {
  upstreamEnded: "upstream_ended",
  upstreamUnreachable: "upstream_unreachable",
  upstreamStatus: "upstream_status",
  upstreamNotSse: "upstream_not_sse",
  upstreamTimeout: "upstream_timeout",
  upstreamError: "upstream_error",
  relayLost: "relay_lost",
  /** One upstream frame was over the parser's limit; the stream cannot be read past it. */
  frameTooLarge: "upstream_frame_too_large",
  /** The run log refused the relay's writes; the run was stopped at the workflow service. */
  logWriteFailed: "log_write_failed",
  shutdown: "shutdown",
} as const;
