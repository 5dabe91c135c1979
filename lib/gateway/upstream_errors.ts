/**
 * How a failed call to the workflow service is classified: one typed {@link UpstreamError} that
 * already says which HTTP status the gateway should answer with, and what clients may be told
 * (docs/architecture.md, "Core failures and their HTTP answers"). Shared by the transport and
 * every protocol module.
 * @module
 */
import { ERROR_CODES, type ErrorBody } from "../events.ts";

/** The kinds of upstream failure. */
export type UpstreamErrorCode =
  /** Connection refused, DNS failure, reset before an answer: 502. */
  | "upstream_unreachable"
  /** A 5xx, a redirect, or a 4xx the client cannot act on (401/403: our token): 502. */
  | "upstream_status"
  /** A 4xx that means something to the client (unknown graph, conflict, bad input): passed on. */
  | "upstream_client_error"
  /** A 2xx that is not `text/event-stream`: 502. */
  | "upstream_not_sse"
  /** No answer, or no first body byte, within `timeoutMs`: 504. */
  | "upstream_timeout"
  /** A 2xx whose body is not what the contract says (e.g. `/graphs` not a graph list): 502. */
  | "upstream_bad_response"
  /** The stream broke after it started, or the in-process handler threw: 502. */
  | "upstream_error";

/** Upstream 4xx statuses the gateway passes through to its own client. */
export const PASS_THROUGH_STATUSES: ReadonlySet<number> = new Set([400, 404, 409, 413, 422, 429]);

/** Details of an {@link UpstreamError}. */
export interface UpstreamErrorInit {
  /** What went wrong. */
  code: UpstreamErrorCode;
  /** Status the upstream answered with, if it answered. */
  upstreamStatus?: number;
  /** The upstream's error body: parsed JSON if it was JSON, else its text (bounded). */
  body?: unknown;
  /** The underlying error. */
  cause?: unknown;
}

/** The generic sentence of each failure that is not the client's (see `publicMessage`). */
const PUBLIC_MESSAGES: Record<
  Exclude<UpstreamErrorCode, "upstream_client_error">,
  (status?: number) => string
> = {
  upstream_unreachable: () => "The workflow service could not be reached",
  upstream_status: (status) =>
    `The workflow service failed${status === undefined ? "" : ` (status ${status})`}`,
  upstream_not_sse: () => "The workflow service did not answer with an event stream",
  upstream_timeout: () => "The workflow service did not answer in time",
  upstream_bad_response: () => "The workflow service answered something the gateway cannot read",
  upstream_error: () => "The workflow service's stream failed",
};

/** A failed call to the workflow service, classified. */
export class UpstreamError extends Error {
  /** What went wrong. */
  readonly code: UpstreamErrorCode;
  /** The HTTP status the gateway should answer with (502, 504, or a passed-through 4xx). */
  readonly status: number;
  /** Status the upstream answered with, if it answered. */
  readonly upstreamStatus?: number;
  /** The upstream's error body, if any. */
  readonly body?: unknown;

  /** Classifies a failure; `status` follows from `code` (and `upstreamStatus` for a 4xx). */
  constructor(message: string, init: UpstreamErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "UpstreamError";
    this.code = init.code;
    this.upstreamStatus = init.upstreamStatus;
    this.body = init.body;
    this.status = init.code === "upstream_timeout"
      ? 504
      : init.code === "upstream_client_error" && init.upstreamStatus !== undefined
      ? init.upstreamStatus
      : 502;
  }

  /**
   * What clients, the run log and pages may be told: a passed-through 4xx keeps the service's
   * words (they are about the client's input); anything else is a short generic sentence, since
   * a failing service's body, stack, socket errors and paths are its internals. The whole
   * `message` and `body` belong in the gateway's own log.
   */
  get publicMessage(): string {
    if (this.code === "upstream_client_error") return this.message;
    return PUBLIC_MESSAGES[this.code](this.upstreamStatus);
  }

  /**
   * The JSON body the gateway answers with: a passed-through 4xx keeps its body in `details`;
   * other failures carry the code and {@link publicMessage} only.
   */
  toErrorBody(): ErrorBody {
    if (this.code !== "upstream_client_error" || this.body === undefined) {
      return { error: this.code, message: this.publicMessage };
    }
    return { error: this.code, message: this.message, details: this.body };
  }
}

/** An error's message (or the value as text). */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Parses a JSON answer's text. @throws {UpstreamError} `upstream_bad_response` when it is not JSON. */
export function parseJsonAnswer(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UpstreamError(`${what}: answer is not JSON`, {
      code: "upstream_bad_response",
      cause: error,
    });
  }
}

/** The `workflow_error.code` for an upstream failure. */
export function errorCodeOf(error: unknown): string {
  return error instanceof UpstreamError ? error.code : ERROR_CODES.upstreamError;
}
