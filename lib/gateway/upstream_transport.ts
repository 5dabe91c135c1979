/**
 * The HTTP machinery every protocol module shares (docs/upstreams.md): one base URL or the
 * built-in service's in-process handler (no socket), deadlines on the answer and the first body
 * byte, and failures classified as {@link UpstreamError}. The service URL only ever comes from
 * configuration, never from a request.
 * @module
 */
import { raceAbort } from "../async.ts";
import { readBounded, statusError } from "./upstream_body.ts";
import { describe, UpstreamError } from "./upstream_errors.ts";
import { http1Fetch, Http1ProtocolError } from "./upstream_http1.ts";
import { Opening, timeoutError } from "./upstream_opening.ts";

/** Result of `Upstream.health` and of {@link UpstreamTransport.probe}. */
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

/** A `fetch`-like function. */
export type FetchLike = (input: Request | URL | string, init?: RequestInit) => Promise<Response>;

/** How to reach the workflow service: what every protocol module takes besides its credentials. */
export interface ConnectionOptions {
  /** The external service's base URL (`WORKFLOW_SERVICE_URL`); paths are resolved under it. */
  url?: string;
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

/** In-process requests still need absolute URLs; this host is never resolved. */
const IN_PROCESS_BASE = "http://workflow.internal/";

/** Rejects when `signal` aborts; cancels the body of a response that arrives too late. */
function raceResponse(promise: Promise<Response>, signal: AbortSignal): Promise<Response> {
  return raceAbort(promise, signal, (r) => {
    r.body?.cancel().catch(() => {});
  });
}

/** Options of {@link createTransport}: the connection and the service's auth header. */
export interface TransportOptions extends ConnectionOptions {
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
  /**
   * `extra` plus the auth headers, as lower-case name/value pairs (a `HeadersInit`): a
   * `Headers` object costs a validation per set and a sorted copy per read, on every start.
   */
  headers(extra: Record<string, string>): [string, string][];
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
  let send: (path: string, init: RequestInit, signal: AbortSignal) => Promise<Response>;
  let mode: "built-in" | "external";
  /** True when `send` rejects as soon as its signal aborts (no race needed). */
  let honorsSignal = false;

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
    honorsSignal = doFetch === http1Fetch;
    mode = "external";
    // A redirect is an error, not followed: following it could carry the token elsewhere.
    send = (path, init, signal) =>
      doFetch(new URL(path, base), { ...init, signal, redirect: "manual" });
  } else if (opts.inProcess) {
    const handler = opts.inProcess;
    base = IN_PROCESS_BASE;
    mode = "built-in";
    send = (path, init, signal) => {
      try {
        return Promise.resolve(handler(new Request(new URL(path, base), { ...init, signal })));
      } catch (error) {
        return Promise.reject(error);
      }
    };
  } else {
    throw new TypeError("createUpstream needs a url or an inProcess handler");
  }

  const auth = Object.entries(opts.authHeaders ?? {}).map(([k, v]): [string, string] => [
    k.toLowerCase(),
    v,
  ]);
  const authNames = new Set(auth.map(([k]) => k));
  const headers = (extra: Record<string, string>): [string, string][] => {
    const out: [string, string][] = [];
    for (const k in extra) {
      const name = k.toLowerCase();
      if (!authNames.has(name)) out.push([name, extra[k]]);
    }
    for (const pair of auth) out.push(pair);
    return out;
  };

  /**
   * Sends a request with a deadline on the answer; classifies transport failures. A promise
   * chain, not an async function: a start waits here on the service, and a suspended frame that
   * only forwards the answer would hold its arguments for as long.
   */
  const call = (
    what: string,
    path: string,
    init: RequestInit,
    signal: AbortSignal,
    deadline: { readonly timedOut: boolean },
    external?: AbortSignal,
    ms = timeoutMs,
  ): Promise<Response> => {
    let answer: Promise<Response>;
    try {
      // The socket client honors the signal itself, from the connect to the answer: no race
      // (its promise, listener and callbacks) held while the service takes its time.
      const sent = send(path, init, signal);
      answer = honorsSignal ? sent : raceResponse(sent, signal);
    } catch (error) {
      answer = Promise.reject(error);
    }
    return answer.catch((error) => {
      if (deadline.timedOut) throw timeoutError(what, ms, "answer");
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
    });
  };

  const callJson = async (
    what: string,
    path: string,
    init: RequestInit,
    ms = timeoutMs,
  ): Promise<{ res: Response; text: string }> => {
    const ac = new AbortController();
    const deadline = { timedOut: false };
    const timer = setTimeout(() => {
      deadline.timedOut = true;
      ac.abort(timeoutError(what, ms, "answer"));
    }, ms);
    try {
      const res = await call(what, path, init, ac.signal, deadline, undefined, ms);
      if (!res.ok) throw await statusError(res, what);
      let text: string;
      try {
        text = await raceAbort(readBounded(res), ac.signal);
      } catch (error) {
        if (deadline.timedOut) throw timeoutError(what, ms, "answer");
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

  // A promise chain whose state is one Opening: no async frame stays suspended (with its
  // arguments and locals) while the service takes its time to answer.
  const openStream = (
    what: string,
    path: string,
    init: RequestInit,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>> => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const op = new Opening(what, timeoutMs, signal);
    return call(what, path, init, op.ac.signal, op, signal).then((res) => op.answer(res)).catch(
      (error) => {
        op.finish(error);
        throw error;
      },
    );
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
