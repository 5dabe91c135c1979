/**
 * The browser's side of a run (docs/architecture.md, "Browser client"): start it with one
 * `POST /agui`, read its SSE stream, and when the connection drops, resume it with
 * `GET /agui/runs/:id/events` and `Last-Event-ID` until a terminal event arrives. Runs in the
 * console island and under Deno; it imports only zod-free modules and its own small SSE parser
 * (`sse_lite.ts`), so the bundle stays small.
 * @module
 */
import { isTerminalType } from "../event_names.ts";
import type { Decision, ErrorBody } from "../events.ts";
import { backoffDelay } from "./backoff.ts";
import { defaultIsOnline, defaultWaitOnline } from "./online.ts";
import { createSseParser } from "./sse_lite.ts";

/** One event as the client hands it on. */
export interface StreamEvent {
  /** The SSE id (the run's sequence number); 0 for events the client makes itself. */
  id: number;
  /** The SSE event name (`message` when the frame names none). */
  type: string;
  /** The parsed `data:` JSON object. */
  data: Record<string, unknown>;
}

/** What the connection is doing; `offline` means waiting for the browser's `online` event. */
export type StreamStatus = "connecting" | "streaming" | "reconnecting" | "offline" | "closed";

/** How a stream ended. `done` never rejects. */
export interface Outcome {
  /**
   * `terminal`: the server sent a terminal event; `failed`: the client gave up (4xx, not an
   * event stream, retries exhausted) and `event` is its own `workflow_error`; `closed`:
   * `close()` came first.
   */
  end: "terminal" | "failed" | "closed";
  /** The terminal event (absent when closed). */
  event?: StreamEvent;
  /** The last event id seen: pass it as `lastEventId` to resume later. */
  lastEventId: number;
}

/** The answer to `approve()` / `abort()`; never throws (network failures have status 0). */
export interface ActionResult {
  /** True for a 2xx answer. */
  ok: boolean;
  /** The HTTP status, or 0 when the request did not get an answer. */
  status: number;
  /** The parsed JSON answer, if any. */
  body?: unknown;
  /** On failure: the server's `error` code (`http_<status>` or `network` otherwise). */
  error?: string;
  /** On failure: the server's `message`, fit to show a person. */
  message?: string;
}

/** Options of {@link streamRun}. Only `body` (or `runId`, to attach) is needed. */
export interface StreamRunOptions {
  /** Prefix of the gateway's URLs; "" (same origin) by default. */
  baseUrl?: string;
  /** Starts a run with `POST /agui`. Without it the client attaches to `runId` with a GET. */
  body?: { graph_name: string; initial_state: Record<string, unknown> };
  /** The run id (the idempotency key of the POST); `crypto.randomUUID()` by default. */
  runId?: string;
  /** Events up to this id were already seen (resume after a page reload); 0 by default. */
  lastEventId?: number;
  /** Each event once, in order; never heartbeats. Errors thrown here are logged, not fatal. */
  onEvent?: (event: StreamEvent) => void;
  /** Each change of connection status. */
  onStatus?: (status: StreamStatus) => void;
  /** The server's heartbeat interval; no bytes for 3× this = a dead connection. 15000. */
  heartbeatMs?: number;
  /** Retries after consecutive failures; a reconnect that brings a new event resets them. 3. */
  maxRetries?: number;
  /** Base of the exponential backoff with full jitter, in ms. 500. */
  backoffMs?: number;
  /** Upper bound of one backoff delay, in ms. 10000. */
  maxBackoffMs?: number;
  /** `[0, 1)` source for the jitter; `Math.random` by default. */
  random?: () => number;
  /** The fetch to use; the global one by default. */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Timer functions (watchdog and backoff); the global ones by default. */
  setTimeout?: (fn: () => void, ms: number) => unknown;
  /** Clears what `setTimeout` returned. */
  clearTimeout?: (id: unknown) => void;
  /** False when known offline; `navigator.onLine` by default (always true without it). */
  isOnline?: () => boolean;
  /** Resolves when back online; the window's `online` event by default. */
  waitOnline?: () => Promise<void>;
  /** One line per event (`[workflow] event: <type>`) and per failure; `console.info` by default. */
  log?: (line: string) => void;
  /** Extra headers on every request (e.g. `Authorization`). */
  headers?: Record<string, string>;
}

/** A running stream. */
export interface StreamRun {
  /** The run's id (sent as `run_id`). */
  readonly runId: string;
  /** Settles once: on the terminal event, on giving up, or on `close()`. */
  readonly done: Promise<Outcome>;
  /** `POST /agui/runs/:id/approval`; 409 (step not waiting) comes back as `ok: false`. */
  approve(stepId: string, decision: Decision, comment?: string): Promise<ActionResult>;
  /** `POST /agui/runs/:id/abort`; the stream then ends with `workflow_aborted`. */
  abort(): Promise<ActionResult>;
  /** Stops reading (the run goes on on the server); `done` settles with `end: "closed"`. */
  close(): void;
}

type Attempt =
  | { kind: "terminal"; event: StreamEvent }
  | { kind: "fatal"; code: string; message: string; status: number }
  | { kind: "retry"; reason: string; progressed: boolean; status?: number };

const SSE_TYPE = /^text\/event-stream\s*(;|$)/i;

/** Starts (or attaches to) a run and follows its event stream to the end. */
export function streamRun(opts: StreamRunOptions): StreamRun {
  const runId = opts.runId ?? crypto.randomUUID();
  const base = opts.baseUrl ?? "";
  const runUrl = `${base}/agui/runs/${encodeURIComponent(runId)}`;
  const deadMs = (opts.heartbeatMs ?? 15000) * 3;
  const maxRetries = opts.maxRetries ?? 3;
  // Local copies so browser built-ins are never called with `opts` as `this` (Illegal invocation).
  const doFetch = opts.fetch ?? ((input: string, init?: RequestInit) => fetch(input, init));
  const setT = opts.setTimeout ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
  const clearT = opts.clearTimeout ??
    ((id: unknown) => clearTimeout(id as ReturnType<typeof setTimeout>));
  const isOnline = opts.isOnline ?? defaultIsOnline;
  const waitOnline = opts.waitOnline ?? defaultWaitOnline;
  const log = opts.log ?? ((line: string) => console.info(line));

  let lastId = opts.lastEventId ?? 0;
  // Until a POST is answered with a stream, the run may not exist yet: repeat the (idempotent)
  // POST rather than GET a run the gateway never saw.
  let started = !opts.body;
  let closed = false;
  let status: StreamStatus | undefined;
  let abortCurrent: (() => void) | undefined;
  let signalClosed!: () => void;
  const closing = new Promise<void>((resolve) => signalClosed = resolve);

  function setStatus(next: StreamStatus): void {
    if (next === status) return;
    status = next;
    opts.onStatus?.(next);
  }

  function emit(event: StreamEvent): void {
    log(`[workflow] event: ${event.type}`);
    try {
      opts.onEvent?.(event);
    } catch (err) {
      // A rendering bug must not end the stream.
      log(`[workflow] onEvent threw: ${messageOf(err)}`);
    }
  }

  function synthetic(type: string, fields: Record<string, unknown>): StreamEvent {
    return { id: 0, type, data: { workflowId: runId, ts: new Date().toISOString(), ...fields } };
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setT(resolve, ms);
      closing.then(() => {
        clearT(timer);
        resolve();
      });
    });
  }

  async function connect(): Promise<Attempt> {
    const ac = new AbortController();
    abortCurrent = () => ac.abort();
    let dead = false;
    let progressed = false;
    let terminal: StreamEvent | undefined;
    let timer: unknown;
    let reader: ReadableStreamDefaultReader<string> | undefined;
    // Any byte (events or `: heartbeat` comments) proves the connection is alive.
    const arm = () => {
      clearT(timer);
      timer = setT(() => {
        dead = true;
        ac.abort();
      }, deadMs);
    };
    arm();
    try {
      const headers: Record<string, string> = { accept: "text/event-stream", ...opts.headers };
      const res = started
        ? await doFetch(`${runUrl}/events`, {
          headers: { ...headers, "last-event-id": String(lastId) },
          signal: ac.signal,
        })
        : await doFetch(`${base}/agui`, {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify({ ...opts.body, run_id: runId }),
          signal: ac.signal,
        });
      arm();
      if (!res.ok) {
        const info = await readError(res);
        // 408 and 429 are "not now", not "never".
        const final = res.status >= 400 && res.status < 500 && res.status !== 408 &&
          res.status !== 429;
        if (final) {
          return { kind: "fatal", status: res.status, code: info.error, message: info.message };
        }
        // The gateway's JSON message says what is wrong ("the workflow service is unreachable").
        return { kind: "retry", reason: info.message, status: res.status, progressed };
      }
      const type = res.headers.get("content-type") ?? "";
      if (!SSE_TYPE.test(type) || !res.body) {
        await res.body?.cancel();
        return {
          kind: "fatal",
          status: res.status,
          code: "not_sse",
          message: `Expected text/event-stream, got ${type || "no content type"}`,
        };
      }
      started = true;
      setStatus("streaming");
      const parser = createSseParser((msg) => {
        if (terminal) return;
        const id = msg.id && /^\d+$/.test(msg.id) ? Number(msg.id) : 0;
        if (id && id <= lastId) return; // a replay overlapping what we already have
        if (id) lastId = id;
        const data = parseObject(msg.data);
        if (!data) return log(`[workflow] skipped a malformed event (id ${id})`);
        progressed = true;
        const event = { id, type: msg.event ?? "message", data };
        emit(event);
        if (isTerminalType(event.type)) terminal = event;
      });
      reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      while (!terminal) {
        const { value, done } = await reader.read();
        if (done) return { kind: "retry", reason: "stream ended before the run did", progressed };
        arm();
        parser.feed(value);
      }
      return { kind: "terminal", event: terminal };
    } catch (err) {
      const reason = dead ? `no data for ${deadMs} ms` : messageOf(err);
      return { kind: "retry", reason, progressed };
    } finally {
      clearT(timer);
      abortCurrent = undefined;
      reader?.cancel().catch(() => {});
    }
  }

  function finish(end: Outcome["end"], event?: StreamEvent): Outcome {
    closed = true;
    setStatus("closed");
    return event ? { end, event, lastEventId: lastId } : { end, lastEventId: lastId };
  }

  async function run(): Promise<Outcome> {
    let failures = 0;
    setStatus("connecting");
    while (true) {
      if (!isOnline()) {
        setStatus("offline");
        await Promise.race([waitOnline(), closing]);
        if (closed) return finish("closed");
        setStatus(failures ? "reconnecting" : "connecting");
      }
      const attempt = await connect();
      if (closed) return finish("closed");
      if (attempt.kind === "terminal") return finish("terminal", attempt.event);
      if (attempt.kind === "fatal") {
        const { code, message, status } = attempt;
        const event = synthetic("workflow_error", { code, message, status, retries: failures });
        emit(event);
        return finish("failed", event);
      }
      failures = attempt.progressed ? 1 : failures + 1;
      log(`[workflow] connection failed (${attempt.reason})`);
      if (failures > maxRetries) {
        // The panel heads this "Connection lost" (or, with a 5xx `status`, "Workflow service
        // unavailable"): the message is only the cause, not those words again.
        const event = synthetic("workflow_error", {
          code: "connection_lost",
          message: `${attempt.reason} (gave up after ${maxRetries} retries)`,
          status: attempt.status,
          retries: maxRetries,
        });
        emit(event);
        return finish("failed", event);
      }
      setStatus("reconnecting");
      emit(synthetic("workflow_reconnecting", { attempt: failures, maxRetries }));
      await pause(
        backoffDelay(failures, opts.backoffMs ?? 500, opts.maxBackoffMs ?? 10000, opts.random),
      );
      if (closed) return finish("closed");
    }
  }

  async function action(path: string, body?: unknown): Promise<ActionResult> {
    try {
      const res = await doFetch(`${runUrl}/${path}`, {
        method: "POST",
        headers: body === undefined
          ? { ...opts.headers }
          : { "content-type": "application/json", ...opts.headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) return { ok: false, status: res.status, ...await readError(res) };
      return { ok: true, status: res.status, body: parseJson(await res.text()) };
    } catch (err) {
      return { ok: false, status: 0, error: "network", message: messageOf(err) };
    }
  }

  return {
    runId,
    done: run(),
    // JSON.stringify leaves an undefined comment out.
    approve: (stepId, decision, comment) => action("approval", { stepId, decision, comment }),
    abort: () => action("abort"),
    close() {
      if (closed) return;
      closed = true;
      signalClosed();
      abortCurrent?.();
    },
  };
}

/** Reads an error answer's `{error, message}` (consuming the body), with fallbacks. */
async function readError(res: Response): Promise<{ error: string; message: string }> {
  const body = parseJson(await res.text().catch(() => "")) as Partial<ErrorBody> | undefined;
  const error = typeof body?.error === "string" ? body.error : `http_${res.status}`;
  const message = typeof body?.message === "string"
    ? body.message
    : `HTTP ${res.status} ${res.statusText}`.trim();
  return { error, message };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  const value = parseJson(text);
  return value && typeof value === "object" && !Array.isArray(value)
    ? value as Record<string, unknown>
    : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
