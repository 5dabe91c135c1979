/**
 * The gateway's HTTP handlers as plain `Request → Response` functions. Route files under
 * `routes/agui/` pick the function and pass the parts it uses; everything here is framework-free
 * and testable. Core failures ({@link GatewayError}) become statuses here (`http_errors.ts`).
 * @module
 */
import {
  approvalSchema,
  RUN_ID_RE,
  RUN_STATUSES,
  type RunSummary,
  startRunSchema,
} from "../events.ts";
import type { Config } from "../config.ts";
import { type BodyLimits, readJson, validate } from "../http/body.ts";
import { ApiError, jsonResponse } from "../http/errors.ts";
import { InvalidCursorError, type RunStore } from "../runs/store.ts";
import { isFinished } from "../runs/summary.ts";
import { type ClientStreamDeps, streamRun } from "./client_stream.ts";
import { handleAguiRun, isAguiInput, streamAguiLog } from "./dialects/agui_http.ts";
import { workflowEncoder } from "./dialects/workflow.ts";
import { checkSameStart } from "./start_input.ts";
import { rethrowHttp } from "./http_errors.ts";
import type { Gateway } from "./relay.ts";
import type { Upstream } from "./upstream.ts";
import type { Logger } from "../log.ts";

/** `Last-Event-ID` (or `?after=`) as a sequence number; 400 when it is not one. */
export function lastEventId(req: Request, url: URL): number {
  const raw = req.headers.get("last-event-id") ?? url.searchParams.get("after");
  if (raw === null || raw.trim() === "") return 0;
  if (!/^\d{1,15}$/.test(raw.trim())) {
    throw new ApiError(400, "bad_last_event_id", "Last-Event-ID must be an event sequence number");
  }
  return Number(raw.trim());
}

/** A run id from a path segment; 400 when it cannot be one. */
export function runIdParam(id: string): string {
  if (!RUN_ID_RE.test(id)) throw new ApiError(400, "bad_run_id", "Invalid run id");
  return id;
}

/** What starting or reading a run's stream needs. */
export interface StreamHandlerDeps extends ClientStreamDeps {
  /** The run feed, plus starting runs and deciding gates (an AG-UI resume). */
  gateway: ClientStreamDeps["gateway"] & Pick<Gateway, "start" | "decide">;
  /** The run log: summaries, events and the runs of a conversation (`threadId`). */
  store: Pick<RunStore, "get" | "read" | "listByThread">;
  /** The heartbeat interval, the AG-UI default graph and the request body limits. */
  config:
    & Pick<Config, "HEARTBEAT_MS" | "DEFAULT_GRAPH">
    & Exclude<BodyLimits, number>;
}

/** `POST /agui`: start or attach (workflow dialect), or an AG-UI run (AG-UI dialect). */
export async function handleStart(req: Request, deps: StreamHandlerDeps): Promise<Response> {
  const url = new URL(req.url);
  const body = await readJson(req, deps.config);
  if (isAguiInput(body)) return handleAguiRun(body, deps);
  const input = validate(startRunSchema, body);
  const after = lastEventId(req, url);
  checkRetryNamesRun(req, url, input.run_id);
  // The stream's place first: a 503 must not leave a started run behind.
  const slot = deps.streams.reserve();
  let started: Promise<{ run: RunSummary; created: boolean }>;
  try {
    started = deps.gateway.start({
      runId: input.run_id,
      graph: input.graph_name,
      initialState: input.initial_state,
      dialect: "workflow",
    });
  } catch (err) {
    started = Promise.reject(err);
  }
  // Returned, not awaited: while the run starts (the workflow service's answer), what waits is
  // this callback, not this function's suspended frame with the request, its URL and body.
  return started.then(({ run, created }) =>
    created
      ? streamRun(deps, run.id, after, workflowEncoder(), {
        retryMs: 2_000,
        dialect: "workflow",
        slot,
      })
      : checkSameStart(run, input.graph_name, input.initial_state).then(() =>
        streamRun(deps, run.id, after, workflowEncoder(), {
          retryMs: 2_000,
          dialect: "workflow",
          slot,
        })
      )
  ).catch((err) => {
    slot.release();
    return rethrowHttp(err);
  });
}

/**
 * A start that carries `Last-Event-ID` (or `?after=`) is a client's retry of a stream it lost
 * (fetch-event-source re-POSTs the same body). Without `run_id` it cannot name the run it had,
 * and starting another would hand it the tail of a different workflow.
 * @throws {ApiError} 409 `run_id_required`.
 */
export function checkRetryNamesRun(req: Request, url: URL, runId: string | undefined): void {
  if (runId !== undefined) return;
  const header = req.headers.get("last-event-id");
  if ((header === null || header.trim() === "") && !url.searchParams.has("after")) return;
  throw new ApiError(
    409,
    "run_id_required",
    "This POST /agui carries Last-Event-ID, so it resumes a stream, but names no run_id: it " +
      "would start another workflow. Send run_id with every POST (a retry then attaches to the " +
      "same run), or resume on GET /agui/runs/:id/events with Last-Event-ID (the run id is the " +
      "x-workflow-id header of the first answer).",
  );
}

/** `GET /agui/runs/:id/events`: replay after `Last-Event-ID`, then tail until terminal. */
export async function handleEvents(
  req: Request,
  id: string,
  deps: StreamHandlerDeps,
): Promise<Response> {
  const url = new URL(req.url);
  const runId = runIdParam(id);
  const after = lastEventId(req, url);
  const run = await deps.store.get(runId);
  if (!run) throw new ApiError(404, "run_not_found", `No run with id ${runId}`);
  if (isFinished(run) && after >= run.eventCount) {
    // Nothing more will ever come. 204 is how SSE tells a client (the browser's EventSource
    // included) to stop reconnecting, where an empty 200 stream would make it retry forever.
    return new Response(null, { status: 204, headers: { "x-workflow-id": runId } });
  }
  // A run is served in the dialect it was started with, unless the client asks for the other.
  const dialect = url.searchParams.get("dialect") ?? run.dialect;
  if (dialect !== "workflow" && dialect !== "agui") {
    throw new ApiError(400, "bad_dialect", "dialect must be workflow or agui");
  }
  if (dialect === "agui") {
    return streamAguiLog(deps, run, after, { threadId: run.threadId ?? runId, runId, ids: true });
  }
  return streamRun(deps, runId, after, workflowEncoder(), { retryMs: 2_000, dialect: "workflow" });
}

/** What an approval needs. */
export interface ApprovalDeps {
  /** Records the decision and resumes the run. */
  gateway: Pick<Gateway, "approve">;
  /** `MAX_BODY_BYTES`, `BODY_TIMEOUT_MS`, `MAX_JSON_DEPTH`. */
  bodyLimits: BodyLimits;
}

/** `POST /agui/runs/:id/approval` → 202 with the run's summary. */
export async function handleApproval(
  req: Request,
  id: string,
  deps: ApprovalDeps,
): Promise<Response> {
  const runId = runIdParam(id);
  const input = validate(approvalSchema, await readJson(req, deps.bodyLimits));
  const run = await deps.gateway.approve(runId, input).catch(rethrowHttp);
  return jsonResponse({ run: publicSummary(run), accepted: input }, 202);
}

/** `POST /agui/runs/:id/abort` → 202 with the run's summary. */
export async function handleAbort(id: string, gateway: Pick<Gateway, "abort">): Promise<Response> {
  const run = await gateway.abort(runIdParam(id)).catch(rethrowHttp);
  return jsonResponse({ run: publicSummary(run) }, 202);
}

/** `GET /agui/runs/:id` → the run's summary. */
export async function handleGetRun(id: string, store: Pick<RunStore, "get">): Promise<Response> {
  const runId = runIdParam(id);
  const run = await store.get(runId);
  if (!run) throw new ApiError(404, "run_not_found", `No run with id ${runId}`);
  return jsonResponse({ run: publicSummary(run) });
}

/** `GET /agui/runs?status=&graph=&limit=&cursor=` → newest first, paginated. */
export async function handleListRuns(
  url: URL,
  store: Pick<RunStore, "list" | "listByThread">,
): Promise<Response> {
  const status = url.searchParams.get("status") ?? undefined;
  const graph = url.searchParams.get("graph") ?? undefined;
  const limitRaw = url.searchParams.get("limit");
  const cursor = url.searchParams.get("cursor") ?? undefined;
  if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) {
    throw new ApiError(400, "bad_status", `status must be one of ${RUN_STATUSES.join(", ")}`);
  }
  if (graph !== undefined && !/^[a-z][a-z0-9_]{0,63}$/.test(graph)) {
    throw new ApiError(400, "bad_graph", "graph must be a graph name");
  }
  let limit = 50;
  if (limitRaw !== null) {
    if (!/^\d{1,4}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > 500) {
      throw new ApiError(400, "bad_limit", "limit must be an integer from 1 to 500");
    }
    limit = Number(limitRaw);
  }
  if (cursor !== undefined && cursor.length > 512) {
    throw new ApiError(400, "bad_cursor", "Invalid cursor");
  }
  const thread = url.searchParams.get("thread");
  if (thread !== null) return listThreadRuns(store, thread, limit, status, graph);
  let page;
  try {
    page = await store.list({
      status: status as RunSummary["status"] | undefined,
      graph,
      limit,
      cursor,
    });
  } catch (err) {
    if (err instanceof InvalidCursorError) throw new ApiError(400, "bad_cursor", "Invalid cursor");
    throw err;
  }
  return jsonResponse({
    runs: page.runs.map(publicSummary),
    ...(page.cursor ? { cursor: page.cursor } : {}),
  });
}

/**
 * `GET /agui/runs?thread=<threadId>`: an AG-UI thread's runs, newest first, from the thread
 * index (at most 100, no cursor), so a client that knows only its thread finds its runs.
 */
async function listThreadRuns(
  store: Pick<RunStore, "listByThread">,
  thread: string,
  limit: number,
  status: string | undefined,
  graph: string | undefined,
): Promise<Response> {
  if (thread === "" || thread.length > 512) {
    throw new ApiError(400, "bad_thread", "thread must be an AG-UI threadId of 1–512 characters");
  }
  const runs = (await store.listByThread(thread, Math.min(limit, 100))).filter((r) =>
    (status === undefined || r.status === status) && (graph === undefined || r.graph === graph)
  );
  return jsonResponse({ runs: runs.map(publicSummary) });
}

/** `GET /agui/graphs` → the workflow service's graphs. */
export async function handleGraphs(
  upstream: Pick<Upstream, "graphs">,
  logger?: Pick<Logger, "warn">,
): Promise<Response> {
  try {
    return jsonResponse({ graphs: await upstream.graphs() });
  } catch (err) {
    // Why it failed is the service's internals: logged here, not answered.
    logger?.warn("graphs: the workflow service did not list its graphs", { error: err });
    throw new ApiError(502, "upstream_unreachable", "The workflow service did not list its graphs");
  }
}

/** A summary without internal fields (the relay lease). */
export function publicSummary(
  run: RunSummary,
): Omit<RunSummary, "relay" | "inputDigest" | "decisionInFlight"> {
  const { relay: _relay, inputDigest: _inputDigest, decisionInFlight: _d, ...rest } = run;
  return rest;
}
