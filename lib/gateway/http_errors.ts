/**
 * The HTTP side of the core's failures: each {@link GatewayError} type has one status, and its
 * JSON body keeps the words the core chose. Upstream refusals keep the workflow service's status
 * class (502/504, or its own 4xx with its own error code when it gave one).
 * @module
 */
import { ApiError } from "../http/errors.ts";
import { GatewayError, type GatewayErrorType } from "./errors.ts";

/** The status of each core failure (upstream refusals carry their own). */
export const STATUS_OF: Readonly<Record<Exclude<GatewayErrorType, "upstream_refused">, number>> = {
  run_not_found: 404,
  not_waiting: 409,
  decision_conflict: 409,
  run_finished: 409,
  unknown_graph: 404,
  shutting_down: 503,
  run_conflict: 409,
  conflict: 409,
  ambiguous_resume: 409,
};

/** `err` as the {@link ApiError} the HTTP layer answers with; anything else unchanged. */
export function toApiError(err: unknown): unknown {
  if (!(err instanceof GatewayError)) return err;
  if (err.type === "upstream_refused" && err.upstream) {
    const e = err.upstream;
    const body = e.body as { error?: unknown; message?: unknown } | undefined;
    if (e.status < 500 && typeof body?.error === "string") {
      // A 4xx the client can act on (unknown graph, conflict): keep the service's own words.
      const message = typeof body.message === "string" ? body.message : e.message;
      return new ApiError(e.status, body.error, message);
    }
    const { error, message, details } = e.toErrorBody();
    return new ApiError(e.status, error, message, details);
  }
  const status = STATUS_OF[err.type as keyof typeof STATUS_OF] ?? 500;
  return new ApiError(status, err.type, err.message, err.details);
}

/** Rethrows `err` as its HTTP answer (for `.catch` on a core call). */
export function rethrowHttp(err: unknown): never {
  throw toApiError(err);
}
