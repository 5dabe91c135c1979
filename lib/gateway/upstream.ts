/**
 * The workflow service as the gateway sees it (docs/upstreams.md): the {@link Upstream} interface
 * every protocol module implements, and its client for the gateway's own contract: `POST /execute`
 * (SSE), `GET /runs/{thread_id}/stream` (rejoin), `POST /abort`, `GET /health`, `GET /graphs`,
 * over HTTP to `WORKFLOW_SERVICE_URL` or in-process through the built-in service's handler.
 * The HTTP machinery is `upstream_transport.ts`; failures are `upstream_errors.ts`'s
 * {@link UpstreamError}, re-exported here since whoever holds an `Upstream` meets its failures.
 * @module
 */
import { type ExecuteRequest, type GraphInfo, graphInfoSchema } from "../events.ts";
import { parseJsonAnswer, UpstreamError } from "./upstream_errors.ts";
import {
  type ConnectionOptions,
  createTransport,
  type UpstreamHealth,
} from "./upstream_transport.ts";

export { UpstreamError } from "./upstream_errors.ts";

/** The upstream protocols the gateway fronts (`WORKFLOW_SERVICE_PROTOCOL`). */
export type UpstreamProtocol = "execute" | "langgraph" | "agui";

/** What {@link Upstream.rejoin} found. */
export type RejoinResult =
  /** The thread's events after the given upstream id, then live to its end (or its next gate). */
  | { kind: "stream"; body: ReadableStream<Uint8Array> }
  /** This upstream cannot rejoin at all (no endpoint: 404/405 on it, or a protocol without one). */
  | { kind: "unsupported"; reason: string }
  /** The upstream no longer knows the thread (it expired, or the service lost its state). */
  | { kind: "unknown_thread"; reason: string };

/** The workflow service as the gateway sees it. */
export interface Upstream {
  /** `external` over HTTP, `built-in` in-process. */
  readonly mode: "built-in" | "external";
  /** The protocol spoken behind this client; nothing outside `lib/gateway/upstream*` reads it. */
  readonly protocol: UpstreamProtocol;
  /**
   * Starts or resumes a run. Resolves once the upstream answered 2xx with `text/event-stream`
   * AND its first body chunk arrived (or the body ended empty), both within `timeoutMs`; the
   * stream re-emits that chunk. Cancelling the stream (or aborting `signal`) cancels the
   * upstream request.
   * @throws {UpstreamError} classified; or `signal.reason` when `signal` aborted first.
   */
  execute(body: ExecuteRequest, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  /**
   * Rejoins a thread's stream after upstream id `afterId` (null: from its first event). The
   * body is workflow-vocabulary SSE like `execute`'s, every frame with its upstream `id:`.
   * @throws {UpstreamError} when the service fails (not for "unsupported"/"unknown thread").
   */
  rejoin(threadId: string, afterId: string | null, signal?: AbortSignal): Promise<RejoinResult>;
  /** True when upstream id `a` comes after `b` in one thread's order (dedupe on rejoin). */
  isAfter(a: string, b: string): boolean;
  /** Asks the service to stop a thread. @throws {UpstreamError} */
  abort(threadId: string): Promise<void>;
  /** Probes `/health`; never throws. */
  health(): Promise<UpstreamHealth>;
  /** The graphs the service offers. @throws {UpstreamError} */
  graphs(): Promise<GraphInfo[]>;
}

/** Options of {@link createUpstream}. */
export interface UpstreamOptions extends ConnectionOptions {
  /** `WORKFLOW_SERVICE_TOKEN`, sent as `Authorization: Bearer <token>`. */
  token?: string;
}

/**
 * Creates the client of a service speaking the gateway's own `/execute` contract: over HTTP
 * when `url` is set, else in-process through `inProcess`.
 * @throws {TypeError} when neither is given, or `url` is not an http(s) URL.
 */
export function createUpstream(opts: UpstreamOptions): Upstream {
  const t = createTransport({
    ...opts,
    authHeaders: opts.token ? { authorization: `Bearer ${opts.token}` } : undefined,
  });
  const { headers, callJson, timeoutMs } = t;

  return {
    mode: t.mode,
    protocol: "execute",
    // `GET /runs/{thread_id}/stream` with `Last-Event-ID`: the same deadlines as `/execute`.
    // 404 JSON `unknown_thread` is a thread the service forgot, and 410 `events_expired` one
    // whose events after that id it no longer keeps: either way no unbroken sequence can be had.
    // Any other 404 or a 405 is a service without the endpoint (it still works, without
    // rejoin); anything else is a fault.
    async rejoin(threadId: string, afterId: string | null, signal?: AbortSignal) {
      const h = headers(
        afterId === null
          ? { accept: "text/event-stream" }
          : { accept: "text/event-stream", "last-event-id": afterId },
      );
      try {
        const body = await t.openStream(
          "workflow service rejoin",
          `runs/${encodeURIComponent(threadId)}/stream`,
          { method: "GET", headers: h },
          signal,
        );
        return { kind: "stream", body };
      } catch (err) {
        const status = err instanceof UpstreamError ? err.upstreamStatus : undefined;
        if (status === 410) {
          return {
            kind: "unknown_thread",
            reason:
              "the workflow service no longer keeps the thread's events after the last one logged",
          };
        }
        if (status !== 404 && status !== 405) throw err;
        const body = (err as UpstreamError).body as { error?: unknown } | undefined;
        if (status === 404 && typeof body === "object" && body?.error === "unknown_thread") {
          return {
            kind: "unknown_thread",
            reason: "the workflow service no longer knows the thread",
          };
        }
        return { kind: "unsupported", reason: "the workflow service has no rejoin endpoint" };
      }
    },
    isAfter(a: string, b: string) {
      return Number(a) > Number(b);
    },

    execute(body: ExecuteRequest, signal?: AbortSignal) {
      return t.openStream("workflow service /execute", "execute", {
        method: "POST",
        headers: headers({ "content-type": "application/json", accept: "text/event-stream" }),
        body: JSON.stringify(body),
      }, signal);
    },

    async abort(threadId: string) {
      await callJson("workflow service /abort", "abort", {
        method: "POST",
        headers: headers({ "content-type": "application/json", accept: "application/json" }),
        body: JSON.stringify({ thread_id: threadId }),
      }, timeoutMs);
    },

    health() {
      return t.probe("workflow service /health", "health");
    },

    async graphs() {
      const what = "workflow service /graphs";
      const { text } = await callJson(what, "graphs", {
        method: "GET",
        headers: headers({ accept: "application/json" }),
      }, timeoutMs);
      const json = parseJsonAnswer(what, text);
      // The contract says `{graphs: [...]}`; a bare array is tolerated.
      const list = Array.isArray(json) ? json : (json as { graphs?: unknown } | null)?.graphs;
      const parsed = graphInfoSchema.array().safeParse(list);
      if (!parsed.success) {
        throw new UpstreamError(`${what}: answer is not a graph list`, {
          code: "upstream_bad_response",
          body: json,
        });
      }
      return parsed.data;
    },
  };
}
