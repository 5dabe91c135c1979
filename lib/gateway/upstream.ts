/**
 * The workflow service client (docs/architecture.md, "Upstreams"): `POST /execute` (SSE), `POST /abort`, `GET /health`,
 * `GET /graphs`, either over HTTP to `WORKFLOW_SERVICE_URL` or in-process through the built-in
 * service's handler (no socket). Failures come out as one typed {@link UpstreamError} that
 * already says which HTTP status the gateway should answer with. The service URL only ever
 * comes from configuration, never from a request.
 * @module
 */
import {
  ERROR_CODES,
  type ErrorBody,
  type ExecuteRequest,
  type GraphInfo,
  graphInfoSchema,
} from "../events.ts";
import { raceAbort } from "../async.ts";
import { http1Fetch, Http1ProtocolError } from "./upstream_http1.ts";

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

/** Result of {@link Upstream.health}. */
export interface UpstreamHealth {
  /** True when `/health` answered 2xx in time. */
  reachable: boolean;
  /** Round-trip time in milliseconds (until the answer or the failure). */
  latency_ms: number;
  /** The status `/health` answered with, if it answered. */
  status?: number;
  /** Why it is not reachable. */
  error?: string;
}

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

/** A `fetch`-like function. */
export type FetchLike = (input: Request | URL | string, init?: RequestInit) => Promise<Response>;

/** Options of {@link createUpstream}. */
export interface UpstreamOptions {
  /** The external service's base URL (`WORKFLOW_SERVICE_URL`); paths are resolved under it. */
  url?: string;
  /** `WORKFLOW_SERVICE_TOKEN`, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** `UPSTREAM_TIMEOUT_MS`: the longest wait for an answer and for the first body byte. */
  timeoutMs: number;
  /** Timeout of `health()`; default the smaller of `timeoutMs` and 5000. */
  healthTimeoutMs?: number;
  /** The built-in service's handler, used when `url` is not set. */
  inProcess?: (req: Request) => Promise<Response>;
  /**
   * How to reach `url`: `socket` is the small HTTP/1.1 client of `upstream_http1.ts`, much
   * cheaper per streamed chunk than Deno's fetch; `fetch` uses `fetch` (needed behind an HTTP
   * proxy or for an HTTP/2-only service). Default: `socket` for `http:` URLs (a service next to
   * the gateway, where the per-chunk cost matters), `fetch` for `https:` (a remote service: TLS,
   * proxies and HTTP/2 are fetch's strengths, and the socket client's TLS path has no test here).
   */
  transport?: "socket" | "fetch";
  /** A fetch to use for `url` instead of either transport (tests). */
  fetch?: FetchLike;
}

/** Largest error / JSON body read from the upstream. */
const MAX_BODY_BYTES = 64 * 1024;
const IN_PROCESS_BASE = "http://workflow.internal/";

function isEventStream(res: Response): boolean {
  const ct = res.headers.get("content-type");
  return ct !== null && /^\s*text\/event-stream\s*(;|$)/i.test(ct);
}

/** An error's message (or the value as text). */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Reads at most `max` bytes of a body as text, cancelling the rest. */
export async function readBounded(res: Response, max = MAX_BODY_BYTES): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const r = await reader.read();
      if (r.done) return concatText(parts);
      parts.push(r.value);
      size += r.value.byteLength;
    }
    await reader.cancel().catch(() => {});
    return concatText(parts).slice(0, max);
  } finally {
    reader.releaseLock();
  }
}

function concatText(parts: Uint8Array[]): string {
  const decoder = new TextDecoder();
  let text = "";
  for (const p of parts) text += decoder.decode(p, { stream: true });
  return text + decoder.decode();
}

function parseMaybeJson(text: string): unknown {
  const t = text.trim();
  if (t === "") return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return t.length > 500 ? t.slice(0, 500) + "…" : t;
  }
}

/** Builds the error for a non-2xx answer, reading (bounded) and attaching its body. */
export async function statusError(res: Response, what: string): Promise<UpstreamError> {
  let body: unknown;
  try {
    body = parseMaybeJson(await readBounded(res));
  } catch {
    body = undefined;
  }
  const detail = body !== null && typeof body === "object" && "message" in body &&
      typeof body.message === "string"
    ? `: ${body.message}`
    : "";
  return new UpstreamError(`${what} answered ${res.status}${detail}`, {
    code: PASS_THROUGH_STATUSES.has(res.status) ? "upstream_client_error" : "upstream_status",
    upstreamStatus: res.status,
    body,
  });
}

function timeoutError(what: string, ms: number, phase: string): UpstreamError {
  return new UpstreamError(`${what}: no ${phase} within ${ms} ms`, { code: "upstream_timeout" });
}

/** Rejects when `signal` aborts; cancels the body of a response that arrives too late. */
function raceResponse(promise: Promise<Response>, signal: AbortSignal): Promise<Response> {
  return raceAbort(promise, signal, (r) => {
    r.body?.cancel().catch(() => {});
  });
}

/**
 * The stream `execute()` resolves with: the first chunk, then the upstream body. Pull-based
 * (high-water mark 0) so a slow consumer slows the upstream read instead of buffering here.
 */
class UpstreamBody implements UnderlyingDefaultSource<Uint8Array> {
  constructor(
    private first: Uint8Array | undefined,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly done: (reason?: unknown) => void,
    private readonly external: AbortSignal | undefined,
  ) {}

  pull(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> | void {
    if (this.first !== undefined) {
      c.enqueue(this.first);
      this.first = undefined;
      return;
    }
    return this.reader.read().then((r) => {
      if (r.done) {
        this.done();
        // A cancel caused by `signal` also ends the read as done: report it as the abort it is.
        if (this.external?.aborted) c.error(this.external.reason);
        else c.close();
      } else {
        c.enqueue(r.value);
      }
    }, (error) => {
      this.done();
      c.error(
        this.external?.aborted ? this.external.reason : new UpstreamError(
          `workflow stream broke: ${describe(error)}`,
          { code: "upstream_error", cause: error },
        ),
      );
    });
  }

  cancel(reason?: unknown): Promise<void> {
    this.first = undefined;
    const cancelled = this.reader.cancel(reason).catch(() => {});
    this.done(reason);
    return cancelled;
  }
}

/** Options of {@link createTransport}: {@link UpstreamOptions} without the token's encoding. */
export interface TransportOptions extends Omit<UpstreamOptions, "token"> {
  /** Headers sent on every call (the service's auth header: a bearer token, an API key). */
  authHeaders?: Record<string, string>;
}

/**
 * The HTTP machinery every protocol module shares: one base URL (or the in-process handler),
 * deadlines, and failures classified as {@link UpstreamError}.
 */
export interface UpstreamTransport {
  /** `external` over HTTP, `built-in` in-process. */
  readonly mode: "built-in" | "external";
  /** The request timeout (`UPSTREAM_TIMEOUT_MS`). */
  readonly timeoutMs: number;
  /** The `health()` timeout. */
  readonly healthTimeoutMs: number;
  /** `extra` plus the auth headers. */
  headers(extra: Record<string, string>): Headers;
  /**
   * A JSON call with one deadline (default `timeoutMs`) over answer and body: resolves with a
   * 2xx answer and its (bounded) text. @throws {UpstreamError}
   */
  callJson(
    what: string,
    path: string,
    init: RequestInit,
    ms?: number,
  ): Promise<{ res: Response; text: string }>;
  /**
   * Opens an SSE stream: resolves once the answer is 2xx `text/event-stream` AND its first body
   * chunk arrived (or the body ended empty), both within `timeoutMs`; the stream re-emits that
   * chunk. Cancelling it (or aborting `signal`) cancels the request.
   * @throws {UpstreamError} classified; or `signal.reason` when `signal` aborted first.
   */
  openStream(
    what: string,
    path: string,
    init: RequestInit,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>>;
  /** Probes `path` with a GET; never throws. */
  probe(what: string, path: string): Promise<UpstreamHealth>;
}

/**
 * Creates the shared HTTP machinery: over HTTP when `url` is set, else in-process through
 * `inProcess`.
 * @throws {TypeError} when neither is given, or `url` is not an http(s) URL.
 */
export function createTransport(opts: TransportOptions): UpstreamTransport {
  const timeoutMs = opts.timeoutMs;
  const healthTimeoutMs = opts.healthTimeoutMs ?? Math.min(timeoutMs, 5000);
  let base: string;
  let send: (path: string, init: RequestInit) => Promise<Response>;
  let mode: "built-in" | "external";

  if (opts.url !== undefined) {
    const u = new URL(opts.url);
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new TypeError("workflow service URL must be http(s)");
    }
    if (!u.pathname.endsWith("/")) u.pathname += "/";
    u.search = "";
    u.hash = "";
    base = u.href;
    const transport = opts.transport ?? (u.protocol === "http:" ? "socket" : "fetch");
    const doFetch: FetchLike = opts.fetch ?? (transport === "fetch" ? fetch : http1Fetch);
    mode = "external";
    // A redirect is an error, not followed: following it could carry the token elsewhere.
    send = (path, init) => doFetch(new URL(path, base), { ...init, redirect: "manual" });
  } else if (opts.inProcess) {
    const handler = opts.inProcess;
    base = IN_PROCESS_BASE;
    mode = "built-in";
    send = async (path, init) => await handler(new Request(new URL(path, base), init));
  } else {
    throw new TypeError("createUpstream needs a url or an inProcess handler");
  }

  const headers = (extra: Record<string, string>): Headers => {
    const h = new Headers(extra);
    for (const [k, v] of Object.entries(opts.authHeaders ?? {})) h.set(k, v);
    return h;
  };

  /** Sends a request with a deadline on the answer; classifies transport failures. */
  const call = async (
    what: string,
    path: string,
    init: RequestInit,
    signal: AbortSignal,
    isTimeout: () => boolean,
    external?: AbortSignal,
    ms = timeoutMs,
  ): Promise<Response> => {
    try {
      return await raceResponse(send(path, { ...init, signal }), signal);
    } catch (error) {
      if (isTimeout()) throw timeoutError(what, ms, "answer");
      if (external?.aborted) throw external.reason;
      if (error instanceof UpstreamError) throw error;
      if (error instanceof Http1ProtocolError) {
        throw new UpstreamError(`${what}: malformed answer: ${error.message}`, {
          code: "upstream_bad_response",
          cause: error,
        });
      }
      throw new UpstreamError(`${what} failed: ${describe(error)}`, {
        code: mode === "external" ? "upstream_unreachable" : "upstream_error",
        cause: error,
      });
    }
  };

  const callJson = async (
    what: string,
    path: string,
    init: RequestInit,
    ms = timeoutMs,
  ): Promise<{ res: Response; text: string }> => {
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort(timeoutError(what, ms, "answer"));
    }, ms);
    try {
      const res = await call(what, path, init, ac.signal, () => timedOut, undefined, ms);
      if (!res.ok) throw await statusError(res, what);
      let text: string;
      try {
        text = await raceAbort(readBounded(res), ac.signal);
      } catch (error) {
        if (timedOut) throw timeoutError(what, ms, "answer");
        throw new UpstreamError(`${what}: body failed: ${describe(error)}`, {
          code: "upstream_error",
          cause: error,
        });
      }
      return { res, text };
    } finally {
      clearTimeout(timer);
    }
  };

  const openStream = async (
    what: string,
    path: string,
    init: RequestInit,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>> => {
    signal?.throwIfAborted();
    const ac = new AbortController();
    let timedOut = false;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let finished = false;
    const onExternalAbort = () => finish(signal!.reason);
    // Runs once when the exchange is over: stops the timer, detaches from `signal`, and
    // aborts the request (a no-op after a clean end; after a cancel it closes the socket).
    const finish = (reason?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onExternalAbort);
      reader?.cancel(reason).catch(() => {});
      ac.abort(reason);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish(timeoutError(what, timeoutMs, "first byte"));
    }, timeoutMs);
    signal?.addEventListener("abort", onExternalAbort, { once: true });
    try {
      const res = await call(what, path, init, ac.signal, () => timedOut, signal);
      if (!res.ok) throw await statusError(res, what);
      if (!isEventStream(res)) {
        await res.body?.cancel().catch(() => {});
        throw new UpstreamError(
          `${what} answered ${res.headers.get("content-type") ?? "no content type"}, ` +
            "not text/event-stream",
          { code: "upstream_not_sse", upstreamStatus: res.status },
        );
      }
      if (!res.body) {
        finish();
        return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
      }
      reader = res.body.getReader();
      let first: ReadableStreamReadResult<Uint8Array>;
      try {
        first = await reader.read();
      } catch (error) {
        if (timedOut) throw timeoutError(what, timeoutMs, "first byte");
        if (signal?.aborted) throw signal.reason;
        throw new UpstreamError(`${what}: stream broke before the first byte`, {
          code: "upstream_error",
          cause: error,
        });
      }
      // A cancel from the deadline or from `signal` resolves a pending read as done.
      if (timedOut) throw timeoutError(what, timeoutMs, "first byte");
      signal?.throwIfAborted();
      clearTimeout(timer);
      if (first.done) {
        finish();
        return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
      }
      return new ReadableStream<Uint8Array>(
        new UpstreamBody(first.value, reader, finish, signal),
        { highWaterMark: 0 },
      );
    } catch (error) {
      finish(error);
      throw error;
    }
  };

  const probe = async (what: string, path: string): Promise<UpstreamHealth> => {
    const started = performance.now();
    const latency = () => Math.round((performance.now() - started) * 10) / 10;
    try {
      const { res } = await callJson(what, path, {
        method: "GET",
        headers: headers({ accept: "application/json" }),
      }, healthTimeoutMs);
      return { reachable: true, latency_ms: latency(), status: res.status };
    } catch (error) {
      const out: UpstreamHealth = {
        reachable: false,
        latency_ms: latency(),
        error: describe(error),
      };
      if (error instanceof UpstreamError && error.upstreamStatus !== undefined) {
        out.status = error.upstreamStatus;
      }
      return out;
    }
  };

  return { mode, timeoutMs, healthTimeoutMs, headers, callJson, openStream, probe };
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
    // Placeholder until the relay's takeover lands: `GET /runs/{thread_id}/stream` is the
    // contract's rejoin endpoint.
    rejoin() {
      return Promise.resolve({ kind: "unsupported", reason: "rejoin is not implemented yet" });
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
