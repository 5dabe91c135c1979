/**
 * The built-in workflow service over HTTP (DESIGN §6): `POST /execute` streams a run (or the
 * continuation of a waiting thread) as SSE, `POST /abort`, `GET /health`, `GET /graphs`. A plain
 * `Request → Response` handler, so the gateway can call it in-process and `scripts/workflow.ts`
 * can serve it alone.
 *
 * Client disconnects: when a caller cancels the response body, the run keeps going to its next
 * pause or end (the business work is not lost, a waiting thread can still be resumed); later
 * events are dropped for that caller. Use `POST /abort` to stop a run.
 * @module
 */
import { abortSchema, type ErrorBody, executeSchema } from "../events.ts";
import { type Logger, silentLogger } from "../log.ts";
import { str } from "./extract.ts";
import { listGraphs, WORKFLOWS } from "./graphs.ts";
import type { RunRequest, WorkflowRuntime } from "./runner.ts";
import type { WorkflowSpec } from "./spec.ts";
import { encodeEvent, frameBytes } from "../sse/encode.ts";
import { type ThreadRecord, ThreadTable, type ThreadTableOptions } from "./threads.ts";

/** Settings of a workflow service. */
export interface WorkflowServiceOptions extends ThreadTableOptions {
  /** Delay before each task step, in ms (the app uses `WORKFLOW_STEP_DELAY_MS`; tests 0). */
  stepDelayMs?: number;
  /** When set, every route needs `Authorization: Bearer <token>`. */
  token?: string;
  /** The clock for `ts`, documents and default dates. */
  now?: () => Date;
  /** Where logs go (default: nowhere). */
  logger?: Logger;
  /** Largest accepted request body (default 64 KiB). */
  maxBodyBytes?: number;
  /**
   * Send a `: keep-alive` comment after this many ms without an event, so proxies and idle
   * timeouts between here and the gateway do not cut a long step (default 10,000; 0 = never).
   */
  keepAliveMs?: number;
}

/** A running workflow service. */
export interface WorkflowService {
  /** Answers one HTTP request. Never throws. */
  handler(req: Request): Promise<Response>;
  /**
   * Stops the service: running threads end with `workflow_error` (code `shutdown`), then every
   * thread is forgotten. Later requests get 503.
   */
  close(): Promise<void>;
}

const KEEP_ALIVE = new TextEncoder().encode(": keep-alive\n\n");

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

function fail(
  status: number,
  error: string,
  message: string,
  details?: unknown,
  headers?: Record<string, string>,
): Response {
  const body: ErrorBody = { error, message };
  if (details !== undefined) body.details = details;
  return json(status, body, headers);
}

/** `{checkIn: 1}` → `{check_in: 1}` (top level only): the wire speaks snake_case throughout. */
function snakeKeys(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]),
  );
}

/** Compares secrets without an early exit, so timing does not reveal a matching prefix. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Reads a JSON body, or returns the error response (415, 413, 400). */
async function readJson(req: Request, maxBytes: number): Promise<unknown | Response> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type.trim())) {
    return fail(415, "unsupported_media_type", "content-type must be application/json");
  }
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    return fail(413, "payload_too_large", `request body over ${maxBytes} bytes`);
  }
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.length > maxBytes) {
    return fail(413, "payload_too_large", `request body over ${maxBytes} bytes`);
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return fail(400, "bad_request", "request body is not valid JSON");
  }
}

/** One SSE response: events go to it while the caller reads; a cancel only detaches it. */
interface EventSink {
  body: ReadableStream<Uint8Array>;
  emit(type: string, data: Record<string, unknown>): void;
  end(): void;
}

/** Creates the built-in workflow service. LangGraph is loaded on the first `/execute`. */
export function createWorkflowService(opts: WorkflowServiceOptions = {}): WorkflowService {
  const now = opts.now ?? (() => new Date());
  const log = opts.logger ?? silentLogger;
  const stepDelayMs = Math.max(0, opts.stepDelayMs ?? 0);
  const maxBodyBytes = opts.maxBodyBytes ?? 65_536;
  const keepAliveMs = Math.max(0, opts.keepAliveMs ?? 10_000);
  const threads = new ThreadTable(opts);
  let runtime: Promise<WorkflowRuntime> | undefined;
  let runtimeReady: WorkflowRuntime | undefined;
  let closed = false;

  function loadRuntime(): Promise<WorkflowRuntime> {
    runtime ??= import("./runner.ts").then((m) => {
      runtimeReady = m.createRuntime(WORKFLOWS, { stepDelayMs, now });
      // The delay an operator set (WORKFLOW_STEP_DELAY_MS) is what explains a slow-looking run.
      log.info("workflow engine loaded", { graphs: WORKFLOWS.size, step_delay_ms: stepDelayMs });
      return runtimeReady;
    });
    // A failed load is retried on the next request rather than cached forever.
    runtime.catch(() => (runtime = undefined));
    return runtime;
  }

  function forget(ids: string[]): void {
    if (!runtimeReady || ids.length === 0) return;
    for (const id of ids) {
      runtimeReady.forget(id).catch((err) => log.warn("forget failed", { thread_id: id, err }));
    }
    log.debug("thread checkpoints dropped", { count: ids.length });
  }

  function openSink(record: ThreadRecord): EventSink {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let attached = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const detach = () => {
      attached = false;
      clearTimeout(timer);
    };
    const write = (bytes: Uint8Array) => {
      try {
        controller.enqueue(bytes);
      } catch {
        detach();
        return;
      }
      // Only whole frames reach the queue, so a comment can never split an event.
      clearTimeout(timer);
      if (keepAliveMs > 0) timer = setTimeout(() => write(KEEP_ALIVE), keepAliveMs);
    };
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
      cancel() {
        detach();
        log.info("caller went away; the run continues", { thread_id: record.id });
      },
    });
    return {
      body,
      emit(type, data) {
        record.seq += 1;
        if (!attached) return;
        write(frameBytes(encodeEvent({
          id: record.seq,
          event: type,
          data: JSON.stringify({ ...data, workflowId: record.id, ts: now().toISOString() }),
        })));
      },
      end() {
        if (!attached) return;
        detach();
        try {
          controller.close();
        } catch {
          // already errored by the reader: nothing to close
        }
      },
    };
  }

  /** Drives one segment of a thread to its pause or end; never rejects. */
  async function drive(
    record: ThreadRecord,
    spec: WorkflowSpec,
    engine: WorkflowRuntime,
    run: Pick<RunRequest, "start" | "resume">,
    sink: EventSink,
  ): Promise<void> {
    const controller = record.controller!;
    const tlog = log.child({ thread_id: record.id, graph: record.graph });
    const settle = (status: ThreadRecord["status"]) => {
      record.status = status;
      record.updatedAt = now().getTime();
      record.controller = undefined;
      // A finished thread can never resume: drop its checkpoints now and keep only the small
      // record (for 404-vs-409 answers) until it is evicted.
      if (status !== "waiting" && status !== "running") forget([record.id]);
    };
    try {
      if (run.resume) {
        const { stepId, decision, comment } = run.resume;
        sink.emit("approval_resolved", {
          stepId,
          decision,
          ...(comment !== undefined ? { comment } : {}),
        });
      } else {
        sink.emit("workflow_initialized", {
          graph: spec.info.name,
          title: spec.info.title,
          steps: spec.steps.map((s) => ({ name: s.name, title: s.title, kind: s.kind })),
          input: snakeKeys(run.start?.input),
        });
      }
      const outcome = await engine.run({
        graph: record.graph,
        threadId: record.id,
        ...run,
        signal: controller.signal,
        onEvent: (e) => sink.emit(e.type, e.data),
      });
      // The status changes before the event goes out, so a caller reacting to the event at once
      // (a quick approval) already finds the thread in its new state.
      if (outcome.kind === "waiting") {
        settle("waiting");
        record.pending = { stepId: outcome.stepId, message: outcome.message };
        sink.emit("approval_required", {
          stepId: outcome.stepId,
          message: outcome.message,
          options: ["approve", "reject"],
        });
        tlog.info("run waiting for approval", { step: outcome.stepId });
      } else {
        settle(outcome.status === "success" ? "complete" : "rejected");
        sink.emit("workflow_complete", { status: outcome.status, result: outcome.result });
        tlog.info("run finished", { status: outcome.status });
      }
    } catch (err) {
      if (controller.signal.aborted && record.abortReason === "shutdown") {
        settle("error");
        sink.emit("workflow_error", {
          message: "workflow service shutting down",
          retries: 0,
          code: "shutdown",
        });
      } else if (controller.signal.aborted) {
        settle("aborted");
        sink.emit("workflow_aborted", {});
        tlog.info("run aborted");
      } else {
        settle("error");
        const step = (err as { step?: unknown }).step;
        const failed = err instanceof Error && err.name === "StepFailedError";
        sink.emit("workflow_error", {
          message: err instanceof Error ? err.message : String(err),
          retries: 0,
          code: failed ? "step_failed" : "internal_error",
          ...(typeof step === "string" ? { step } : {}),
        });
        tlog.error("run failed", { err });
      }
    } finally {
      sink.end();
    }
  }

  async function execute(req: Request): Promise<Response> {
    const body = await readJson(req, maxBodyBytes);
    if (body instanceof Response) return body;
    const parsed = executeSchema.safeParse(body);
    if (!parsed.success) {
      return fail(400, "bad_request", "invalid /execute body", parsed.error.issues);
    }
    const { graph_name, initial_state, thread_id, resume } = parsed.data;
    const spec = WORKFLOWS.get(graph_name);
    if (!spec) return fail(404, "unknown_graph", `no graph named ${graph_name}`);
    let engine: WorkflowRuntime;
    try {
      engine = await loadRuntime();
    } catch (err) {
      log.error("workflow engine failed to load", { err });
      return fail(503, "unavailable", "the workflow engine could not be loaded");
    }
    if (closed) return fail(503, "unavailable", "the workflow service is shutting down");
    // No await from here until the thread is marked running: two racing requests cannot both pass.
    forget(threads.sweep(now().getTime()));
    let record = threads.get(thread_id);
    if (resume) {
      if (!record) return fail(404, "unknown_thread", `no thread ${thread_id}`);
      if (record.graph !== graph_name) {
        return fail(409, "graph_mismatch", `thread ${thread_id} runs ${record.graph}`);
      }
      if (record.status !== "waiting" || !record.pending) {
        return fail(409, "not_waiting", `thread ${thread_id} is not waiting for a decision`, {
          status: record.status,
        });
      }
      if (record.pending.stepId !== resume.stepId) {
        return fail(409, "step_mismatch", `thread ${thread_id} waits at another step`, {
          expected: record.pending.stepId,
        });
      }
    } else if (record) {
      return fail(409, "thread_exists", `thread ${thread_id} already exists`);
    }
    // Extraction runs before the thread exists, so a surprise throw cannot strand a record.
    const simulateFailure = str(initial_state.simulate_failure);
    const run: Pick<RunRequest, "start" | "resume"> = resume ? { resume } : {
      start: {
        input: spec.extract(initial_state, now()),
        options: simulateFailure ? { simulateFailure } : {},
      },
    };
    if (!record) {
      record = { id: thread_id, graph: graph_name, status: "running", seq: 0, updatedAt: 0 };
      const evicted = threads.add(record);
      if (!evicted) return fail(503, "busy", "too many running workflows");
      forget(evicted);
    }
    record.pending = undefined;
    record.status = "running";
    record.updatedAt = now().getTime();
    record.abortReason = undefined;
    record.controller = new AbortController();
    const sink = openSink(record);
    log.info(resume ? "run resumed" : "run started", {
      thread_id,
      graph: graph_name,
      ...(resume ? { decision: resume.decision } : {}),
    });
    record.done = drive(record, spec, engine, run, sink);
    return new Response(sink.body, { headers: SSE_HEADERS });
  }

  async function abort(req: Request): Promise<Response> {
    const body = await readJson(req, maxBodyBytes);
    if (body instanceof Response) return body;
    const parsed = abortSchema.safeParse(body);
    if (!parsed.success) {
      return fail(400, "bad_request", "invalid /abort body", parsed.error.issues);
    }
    const record = threads.get(parsed.data.thread_id);
    if (!record) return fail(404, "unknown_thread", `no thread ${parsed.data.thread_id}`);
    if (record.status === "running" && record.controller) {
      record.abortReason = "user";
      record.controller.abort(new DOMException("aborted by request", "AbortError"));
      await record.done;
    }
    // Also when the run reached its gate just as the abort arrived.
    if (record.status === "waiting") {
      record.status = "aborted";
      record.pending = undefined;
      record.updatedAt = now().getTime();
      forget([record.id]);
      log.info("waiting run aborted", { thread_id: record.id });
    }
    if (record.status !== "aborted") {
      return fail(409, "not_active", `thread ${record.id} already ended`, {
        status: record.status,
      });
    }
    return json(200, { thread_id: record.id, status: "aborted" });
  }

  function route(req: Request): Promise<Response> | Response {
    const { pathname } = new URL(req.url);
    const allow = (method: string, fn: () => Promise<Response> | Response) =>
      req.method === method
        ? fn()
        : fail(405, "method_not_allowed", `${pathname} accepts ${method}`, undefined, {
          allow: method,
        });
    switch (pathname) {
      case "/execute":
        return allow("POST", () => execute(req));
      case "/abort":
        return allow("POST", () => abort(req));
      case "/health":
        return allow("GET", () => {
          const all = threads.all();
          return json(200, {
            status: "ok",
            graphs: WORKFLOWS.size,
            threads: {
              running: all.filter((t) => t.status === "running").length,
              waiting: all.filter((t) => t.status === "waiting").length,
              total: all.length,
              checkpointed: runtimeReady?.checkpointedThreads() ?? 0,
            },
            engine: runtimeReady ? "loaded" : "not loaded",
          });
        });
      case "/graphs":
        return allow("GET", () => json(200, { graphs: listGraphs() }));
      default:
        return fail(404, "not_found", `no route ${pathname}`);
    }
  }

  return {
    async handler(req) {
      try {
        if (opts.token !== undefined) {
          const auth = req.headers.get("authorization") ?? "";
          const m = /^Bearer\s+(.+)$/i.exec(auth);
          if (!m || !sameSecret(m[1].trim(), opts.token)) {
            return fail(401, "unauthorized", "missing or wrong bearer token", undefined, {
              "www-authenticate": 'Bearer realm="workflow"',
            });
          }
        }
        if (closed) return fail(503, "unavailable", "the workflow service is shutting down");
        return await route(req);
      } catch (err) {
        log.error("request failed", { err });
        return fail(500, "internal_error", "unexpected error");
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      const running = threads.all().filter((t) => t.status === "running");
      for (const t of running) {
        t.abortReason = "shutdown";
        t.controller?.abort(new DOMException("service shutting down", "AbortError"));
      }
      await Promise.all(running.map((t) => t.done));
      threads.clear();
    },
  };
}
