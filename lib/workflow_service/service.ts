/**
 * The built-in workflow service over HTTP: `POST /execute` streams a run (or the continuation of a
 * waiting thread) as SSE, `GET /runs/{thread_id}/stream` rejoins a thread's events after an id,
 * `POST /abort`, `GET /health`, `GET /graphs`. A plain `Request → Response` handler, so the
 * gateway can call it in-process and `scripts/workflow.ts` can serve it alone.
 *
 * Every event gets `id:` = the thread's own sequence (1, 2, … across the start and every resume)
 * and is stored with the thread before any caller sees it; each answer only reads the stored
 * events, so a caller that goes away never stops the run. Threads live in Deno KV (the gateway's
 * database in-process, `KV_PATH` for `deno task workflow`) with LangGraph checkpoints beside them,
 * so a waiting run survives restarts and a run cut by a crash goes on in the next process that
 * touches it. Without a `kv`, an in-memory KV and `MemorySaver` keep nothing past the process.
 * @module
 */
import type { BaseCheckpointSaver } from "@langchain/langgraph";
import { abortSchema, executeSchema, RUN_ID_RE } from "../events.ts";
import { type Logger, silentLogger } from "../log.ts";
import { ThreadDriver } from "./driver.ts";
import { str } from "./extract.ts";
import { type Follower, followThread, ThreadHub } from "./follow.ts";
import { listGraphs, WORKFLOWS } from "./graphs.ts";
import { busyRetryingKv } from "./kv_retry.ts";
import { fail, json, readJson, sameSecret, SSE_HEADERS } from "./http.ts";
import { type ThreadRow, ThreadStore } from "./thread_store.ts";

/** Where `deno task workflow` keeps its threads when `KV_PATH` is unset. */
export const DEFAULT_WORKFLOW_KV_PATH = "./data/workflow.kv";
/** Default of `WORKFLOW_EVENT_RETENTION`: events kept per thread. */
export const DEFAULT_EVENT_RETENTION = 10_000;
/** Default of `WORKFLOW_LEASE_MS`: how long a process's claim on its running threads lasts. */
export const DEFAULT_WORKFLOW_LEASE_MS = 10_000;

/** Settings of a workflow service. */
export interface WorkflowServiceOptions {
  /** Delay before each task step, in ms (the app uses `WORKFLOW_STEP_DELAY_MS`; tests 0). */
  stepDelayMs?: number;
  /** When set, every route needs `Authorization: Bearer <token>`. */
  token?: string;
  /** The clock for `ts`, documents, default dates and expiry. */
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
  /**
   * The Deno KV holding threads and checkpoints (not closed by the service). Unset: an in-memory
   * KV of the service's own, with `MemorySaver`.
   */
  kv?: Deno.Kv;
  /** Keep checkpoints in `MemorySaver` even with `kv` (a `:memory:` KV: nothing to survive). */
  memoryCheckpoints?: boolean;
  /** Key prefix in `kv` (default `["workflow"]`; checkpoints under `[...prefix, "cp"]`). */
  prefix?: Deno.KvKey;
  /** Keep finished threads this long (default one hour). */
  finishedTtlMs?: number;
  /** Keep threads waiting for a decision this long (default 24 hours). */
  waitingTtlMs?: number;
  /** Most threads this process runs at once; more get 503 `busy` (default 10,000). */
  maxThreads?: number;
  /** Events kept per thread (`WORKFLOW_EVENT_RETENTION`, default 10,000). */
  retention?: number;
  /** Lease of this process on its running threads (`WORKFLOW_LEASE_MS`, default 10,000). */
  leaseMs?: number;
  /** How often a follower re-reads a thread another process writes (default 250 ms). */
  pollMs?: number;
  /**
   * Look for running threads whose process is gone this often and go on with them, so runs
   * complete even when nobody rejoins them (default 0 = only when a thread is touched).
   */
  orphanScanMs?: number;
}

/** A running workflow service. */
export interface WorkflowService {
  /** Answers one HTTP request. Never throws. */
  handler(req: Request): Promise<Response>;
  /**
   * Stops the service; later requests get 503. With a durable `kv`, running threads stop where
   * they are and are left to the next process (their lease is released at once); without one
   * they end with `workflow_error` (code `shutdown`).
   */
  close(): Promise<void>;
}

const ROUTE_STREAM = /^\/runs\/([^/]+)\/stream$/;

/** Creates the built-in workflow service. LangGraph is loaded on the first run. */
export function createWorkflowService(opts: WorkflowServiceOptions = {}): WorkflowService {
  const now = opts.now ?? (() => new Date());
  const log = opts.logger ?? silentLogger;
  const maxBodyBytes = opts.maxBodyBytes ?? 65_536;
  const keepAliveMs = Math.max(0, opts.keepAliveMs ?? 10_000);
  const pollMs = Math.max(5, opts.pollMs ?? 250);
  const ownKv = opts.kv ? undefined : Deno.openKv(":memory:");
  const memoryCheckpoints = opts.memoryCheckpoints ?? !opts.kv;
  const prefix = opts.prefix ?? ["workflow"];
  const hub = new ThreadHub();
  const followers = new Set<Follower>();
  let closed = false;

  const ready = (async () => {
    const kv = busyRetryingKv(opts.kv ?? await ownKv!);
    const store = new ThreadStore(kv, {
      prefix,
      finishedTtlMs: opts.finishedTtlMs,
      waitingTtlMs: opts.waitingTtlMs,
      retention: opts.retention ?? DEFAULT_EVENT_RETENTION,
      now: () => now().getTime(),
    });
    const driver = new ThreadDriver({
      store,
      hub,
      log,
      now,
      stepDelayMs: Math.max(0, opts.stepDelayMs ?? 0),
      leaseMs: opts.leaseMs ?? DEFAULT_WORKFLOW_LEASE_MS,
      maxRunning: opts.maxThreads ?? 10_000,
      durable: !memoryCheckpoints,
      checkpointer: async (): Promise<BaseCheckpointSaver> => {
        if (memoryCheckpoints) {
          const { MemorySaver } = await import("@langchain/langgraph");
          return new MemorySaver();
        }
        const { DenoKvSaver } = await import("../kv_checkpoint/mod.ts");
        return new DenoKvSaver(kv, { prefix: [...prefix, "cp"], expireIn: store.backstopMs });
      },
    });
    return { store, driver };
  })();

  let scanTimer: ReturnType<typeof setInterval> | undefined;
  if ((opts.orphanScanMs ?? 0) > 0) {
    const scan = async () => {
      if (closed) return;
      try {
        const { driver } = await ready;
        const taken = await driver.recoverOrphans();
        if (taken > 0) log.info("orphaned threads taken over", { count: taken });
      } catch (err) {
        log.warn("orphan scan failed", { err });
      }
    };
    scanTimer = setInterval(scan, opts.orphanScanMs);
    void scan();
  }

  let lastSweep = 0;
  /** Drops expired threads (and their checkpoints) at most every few seconds. */
  async function sweep(): Promise<void> {
    const { store, driver } = await ready;
    const t = now().getTime();
    if (Math.abs(t - lastSweep) < 5_000) return;
    lastSweep = t;
    const gone = await store.sweep();
    if (gone.length === 0) return;
    const rt = await driver.loaded();
    for (const id of gone) rt?.forget(id).catch((err) => log.warn("forget failed", { err }));
    log.debug("expired threads dropped", { count: gone.length });
  }

  async function follow(id: string, after: number, stopAtGate: boolean): Promise<Response> {
    const { store, driver } = await ready;
    const follower: Follower = followThread({
      store,
      hub,
      id,
      after,
      stopAtGate,
      keepAliveMs,
      pollMs,
      onIdle: () =>
        driver.recoverIfOrphaned(id).catch((err) => log.warn("takeover failed", { err })),
      onEnd: () => followers.delete(follower),
    });
    followers.add(follower);
    return new Response(follower.body, { headers: SSE_HEADERS });
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
    const { store, driver } = await ready;
    try {
      await driver.load();
    } catch (err) {
      log.error("workflow engine failed to load", { err });
      return fail(503, "unavailable", "the workflow engine could not be loaded");
    }
    if (closed) return fail(503, "unavailable", "the workflow service is shutting down");
    await sweep();
    await driver.recoverIfOrphaned(thread_id);
    const current = await store.get(thread_id);
    if (resume) {
      if (!current) return fail(404, "unknown_thread", `no thread ${thread_id}`);
      const { row } = current;
      if (row.graph !== graph_name) {
        return fail(409, "graph_mismatch", `thread ${thread_id} runs ${row.graph}`);
      }
      if (row.status !== "waiting" || !row.pending) {
        return fail(409, "not_waiting", `thread ${thread_id} is not waiting for a decision`, {
          status: row.status,
        });
      }
      if (row.pending.stepId !== resume.stepId) {
        return fail(409, "step_mismatch", `thread ${thread_id} waits at another step`, {
          expected: row.pending.stepId,
        });
      }
      if (!driver.hasRoom()) return fail(503, "busy", "too many running workflows");
      const after = await driver.resume(current, resume);
      if (after === undefined) {
        return fail(409, "not_waiting", `thread ${thread_id} is not waiting for a decision`);
      }
      log.info("run resumed", { thread_id, graph: graph_name, decision: resume.decision });
      return follow(thread_id, after, true);
    }
    if (current) return fail(409, "thread_exists", `thread ${thread_id} already exists`);
    if (!driver.hasRoom()) return fail(503, "busy", "too many running workflows");
    // Extraction runs before the thread exists, so a surprise throw cannot strand a record.
    const simulateFailure = str(initial_state.simulate_failure);
    const start = {
      input: spec.extract(initial_state, now()),
      options: simulateFailure ? { simulateFailure } : {},
    };
    const created = await driver.start(thread_id, graph_name, start);
    if (!created) return fail(409, "thread_exists", `thread ${thread_id} already exists`);
    log.info("run started", { thread_id, graph: graph_name });
    return follow(thread_id, 0, true);
  }

  async function rejoin(req: Request, rawId: string): Promise<Response> {
    let id: string;
    try {
      id = decodeURIComponent(rawId);
    } catch {
      return fail(400, "bad_request", "invalid thread id");
    }
    if (!RUN_ID_RE.test(id)) return fail(400, "bad_request", "invalid thread id");
    const url = new URL(req.url);
    const raw = req.headers.get("last-event-id") ?? url.searchParams.get("after") ?? "0";
    if (!/^\d{1,15}$/.test(raw.trim())) {
      return fail(400, "bad_request", "Last-Event-ID (or ?after=) must be a non-negative integer");
    }
    const after = Number(raw.trim());
    const { store, driver } = await ready;
    await sweep();
    const current = await store.get(id);
    if (!current) return fail(404, "unknown_thread", `no thread ${id}`);
    const { row } = current;
    if (after > row.seq) {
      return fail(400, "bad_request", `thread ${id} has no event ${after} (last is ${row.seq})`, {
        last_id: row.seq,
      });
    }
    if (after < row.first - 1) {
      return fail(
        410,
        "events_expired",
        `events after ${after} of thread ${id} are no longer kept`,
        {
          first_id: row.first,
          last_id: row.seq,
        },
      );
    }
    await driver.recoverIfOrphaned(id).catch((err) => log.warn("takeover failed", { err }));
    return follow(id, after, false);
  }

  async function abort(req: Request): Promise<Response> {
    const body = await readJson(req, maxBodyBytes);
    if (body instanceof Response) return body;
    const parsed = abortSchema.safeParse(body);
    if (!parsed.success) {
      return fail(400, "bad_request", "invalid /abort body", parsed.error.issues);
    }
    const { driver } = await ready;
    const id = parsed.data.thread_id;
    const status = await driver.abort(id);
    if (!status) return fail(404, "unknown_thread", `no thread ${id}`);
    if (status !== "aborted") {
      return fail(409, "not_active", `thread ${id} already ended`, { status });
    }
    return json(200, { thread_id: id, status: "aborted" });
  }

  let counted: { at: number; rows: Promise<ThreadRow[]> } | undefined;
  async function health(): Promise<Response> {
    const { store, driver } = await ready;
    // The counts need a scan of the thread table: probes that come often share one for a second.
    if (!counted || Date.now() - counted.at > 1_000) {
      counted = { at: Date.now(), rows: store.list() };
      counted.rows.catch(() => (counted = undefined));
    }
    const all = await counted.rows;
    const rt = await driver.loaded();
    return json(200, {
      status: "ok",
      graphs: WORKFLOWS.size,
      threads: {
        running: all.filter((t) => t.status === "running").length,
        waiting: all.filter((t) => t.status === "waiting").length,
        total: all.length,
        ...(rt?.checkpointedThreads() !== undefined
          ? { checkpointed: rt.checkpointedThreads() }
          : {}),
        here: driver.running,
      },
      engine: rt ? "loaded" : "not loaded",
      store: memoryCheckpoints ? "memory" : "kv",
    });
  }

  function route(req: Request): Promise<Response> | Response {
    const { pathname } = new URL(req.url);
    const allow = (method: string, fn: () => Promise<Response> | Response) =>
      req.method === method
        ? fn()
        : fail(405, "method_not_allowed", `${pathname} accepts ${method}`, undefined, {
          allow: method,
        });
    const stream = ROUTE_STREAM.exec(pathname);
    if (stream) return allow("GET", () => rejoin(req, stream[1]));
    switch (pathname) {
      case "/execute":
        return allow("POST", () => execute(req));
      case "/abort":
        return allow("POST", () => abort(req));
      case "/health":
        return allow("GET", health);
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
      clearInterval(scanTimer);
      const { driver } = await ready;
      await driver.close();
      closed = true;
      // Followers deliver what the segments wrote last, then end.
      await Promise.all([...followers].map((f) => f.drain().catch(() => {})));
      hub.notifyAll();
      if (ownKv) (await ownKv).close();
    },
  };
}
