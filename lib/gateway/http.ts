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
import { readJson, validate } from "../http/body.ts";
import { ApiError, jsonResponse } from "../http/errors.ts";
import { InvalidCursorError, type RunStore } from "../runs/store.ts";
import { isFinished } from "../runs/summary.ts";
import { type ClientStreamDeps, streamRun } from "./client_stream.ts";
import { handleAguiRun, isAguiInput, streamAguiLog } from "./dialects/agui_http.ts";
import { workflowEncoder } from "./dialects/workflow.ts";
import { checkSameGraph } from "./errors.ts";
import { rethrowHttp } from "./http_errors.ts";
import type { Gateway } from "./relay.ts";
import type { Upstream } from "./upstream.ts";

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
  gateway: ClientStreamDeps["gateway"] & Pick<Gateway, "start" | "decide">;
  store: Pick<RunStore, "get" | "read">;
  config: Pick<Config, "HEARTBEAT_MS" | "MAX_BODY_BYTES" | "DEFAULT_GRAPH">;
}

/** `POST /agui`: start or attach (workflow dialect), or an AG-UI run (AG-UI dialect). */
export async function handleStart(req: Request, deps: StreamHandlerDeps): Promise<Response> {
  const url = new URL(req.url);
  const body = await readJson(req, deps.config.MAX_BODY_BYTES);
  if (isAguiInput(body)) return handleAguiRun(body, deps);
  const input = validate(startRunSchema, body);
  const after = lastEventId(req, url);
  // The stream's place first: a 503 must not leave a started run behind.
  const slot = deps.streams.reserve();
  try {
    const { run, created } = await deps.gateway.start({
      runId: input.run_id,
      graph: input.graph_name,
      initialState: input.initial_state,
      dialect: "workflow",
    });
    if (!created) checkSameGraph(run, input.graph_name);
    return streamRun(deps, run.id, after, workflowEncoder(), {
      retryMs: 2_000,
      dialect: "workflow",
      slot,
    });
  } catch (err) {
    slot.release();
    rethrowHttp(err);
  }
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
  gateway: Pick<Gateway, "approve">;
  maxBodyBytes: number;
}

/** `POST /agui/runs/:id/approval` → 202 with the run's summary. */
export async function handleApproval(
  req: Request,
  id: string,
  deps: ApprovalDeps,
): Promise<Response> {
  const runId = runIdParam(id);
  const input = validate(approvalSchema, await readJson(req, deps.maxBodyBytes));
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
export async function handleListRuns(url: URL, store: Pick<RunStore, "list">): Promise<Response> {
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

/** `GET /agui/graphs` → the workflow service's graphs. */
export async function handleGraphs(upstream: Pick<Upstream, "graphs">): Promise<Response> {
  try {
    return jsonResponse({ graphs: await upstream.graphs() });
  } catch (err) {
    throw new ApiError(
      502,
      "upstream_unreachable",
      "The workflow service did not list its graphs",
      { reason: err instanceof Error ? err.message : String(err) },
    );
  }
}

/** A summary without internal fields (the relay lease). */
export function publicSummary(run: RunSummary): Omit<RunSummary, "relay"> {
  const { relay: _relay, ...rest } = run;
  return rest;
}
