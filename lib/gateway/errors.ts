/**
 * The gateway core's failures, as one error class with a `type` to branch on: the core throws
 * them without knowing about HTTP, and only the HTTP layer (`http_errors.ts`) turns them into
 * statuses and JSON bodies.
 * @module
 */
import type { RunStatus } from "../event_names.ts";
import { UpstreamError } from "./upstream_errors.ts";

/** What went wrong, one word per case. */
export type GatewayErrorType =
  /** No run has that id (never created, or expired). */
  | "run_not_found"
  /** The step named is not the one the run waits on (or the run waits on none). */
  | "not_waiting"
  /** The gate was already decided the other way. */
  | "decision_conflict"
  /** The run already ended. */
  | "run_finished"
  /** The workflow service offers no such graph. */
  | "unknown_graph"
  /** This process is shutting down and takes no new work. */
  | "shutting_down"
  /** The workflow service refused or failed the call (`upstream` says how). */
  | "upstream_refused"
  /** A start named an existing run of another graph. */
  | "run_conflict"
  /** The run was created and removed concurrently. */
  | "conflict"
  /** A resume addressed to a thread in which more than one run waits on a gate. */
  | "ambiguous_resume";

/** Options of a {@link GatewayError}. */
export interface GatewayErrorInit {
  type: GatewayErrorType;
  /** The run concerned, when there is one. */
  runId?: string;
  /** Structured facts a client can act on (the run's status, the step waited on …). */
  details?: Record<string, unknown>;
  /** For `upstream_refused`: the classified upstream failure. */
  upstream?: UpstreamError;
}

/** A failure of the gateway core; `type` says which. */
export class GatewayError extends Error {
  /** What went wrong. */
  readonly type: GatewayErrorType;
  /** The run concerned, when there is one. */
  readonly runId?: string;
  /** Structured facts a client can act on. */
  readonly details?: Record<string, unknown>;
  /** For `upstream_refused`: the classified upstream failure. */
  readonly upstream?: UpstreamError;

  constructor(message: string, init: GatewayErrorInit) {
    super(message, init.upstream ? { cause: init.upstream } : undefined);
    this.name = "GatewayError";
    this.type = init.type;
    this.runId = init.runId;
    this.details = init.details;
    this.upstream = init.upstream;
  }
}

/** `run_not_found`. */
export function runNotFound(runId: string): GatewayError {
  return new GatewayError(`No run with id ${runId}`, { type: "run_not_found", runId });
}

/** `not_waiting` for a step, with the run's status and the step it waits on, if any. */
export function notWaiting(
  runId: string,
  stepId: string,
  current?: { status: RunStatus; pendingApproval?: { stepId: string } },
  message = `Step ${stepId} is not waiting for approval`,
): GatewayError {
  return new GatewayError(message, {
    type: "not_waiting",
    runId,
    ...(current
      ? {
        details: {
          status: current.status,
          ...(current.pendingApproval ? { waiting: current.pendingApproval.stepId } : {}),
        },
      }
      : {}),
  });
}

/** `shutting_down`. */
export function shuttingDown(): GatewayError {
  return new GatewayError("The gateway is shutting down", { type: "shutting_down" });
}

/** `upstream_refused`, carrying the classified upstream failure. */
export function upstreamRefused(e: UpstreamError, runId?: string): GatewayError {
  return new GatewayError(e.message, { type: "upstream_refused", runId, upstream: e });
}

/** Any failure of an upstream call as a classified {@link UpstreamError}. */
export function asUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  return new UpstreamError(err instanceof Error ? err.message : String(err), {
    code: "upstream_error",
    cause: err,
  });
}

/**
 * An attach (a start naming an existing run) must ask for the run's own graph: another graph is a
 * different request that happens to reuse the id, and attaching would hide that.
 * @throws {GatewayError} `run_conflict`.
 */
export function checkSameGraph(run: { id: string; graph: string }, graph: string): void {
  if (run.graph === graph) return;
  throw new GatewayError(`Run ${run.id} already exists with graph ${run.graph}, not ${graph}`, {
    type: "run_conflict",
    runId: run.id,
    details: { graph: run.graph },
  });
}
