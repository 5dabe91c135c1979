/**
 * The gateway's HTTP handlers as plain `Request → Response` functions (DESIGN §4). Route files
 * under `routes/agui/` only pick the function; everything here is framework-free and testable.
 * @module
 */
import {
  approvalSchema,
  RUN_ID_RE,
  RUN_STATUSES,
  type RunSummary,
  startRunSchema,
  type StoredEvent,
} from "../events.ts";
import { readJson, validate } from "../http/body.ts";
import { ApiError, jsonResponse } from "../http/errors.ts";
import { InvalidCursorError } from "../runs/store.ts";
import type { Services } from "../services.ts";
import { encodeWorkflowEvent } from "./dialects/workflow.ts";
import { isFinished } from "./relay.ts";
import type { StreamSlot } from "./streams.ts";
import { handleAguiRun, isAguiInput, streamAguiLog } from "./dialects/agui_http.ts";

/** Encodes stored events for one client; `done` ends the stream early (AG-UI interrupts). */
export interface EventEncoder {
  /** The frames for one event (empty string: nothing to send). */
  encode(ev: StoredEvent): string;
  /** True once the client's stream should end. */
  readonly done: boolean;
  /** Frames to send if the log ends without a terminal event reaching this encoder. */
  finish?(): string;
}

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

/** Options of {@link streamRun}. */
export interface StreamRunOptions {
  /** `retry:` sent at the start (workflow dialect). */
  retryMs?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** The metrics label. */
  dialect: string;
  /**
   * The stream's place under `MAX_STREAMS`, taken before the request had side effects; without
   * one, a place is taken here (503 when none is free). The stream owns it from here on.
   */
  slot?: StreamSlot;
  /**
   * Frames written before the log is read. When the encoder is done after them, the stream
   * closes without reading the log (an AG-UI run that is whole without it).
   */
  prelude?: string;
}

/**
 * Streams a run's log to one client: replay after `afterSeq`, then live, encoded by `encoder`,
 * with heartbeats; ends on the terminal event (or when the encoder is done). The client leaving
 * ends only its subscription; the run goes on.
 */
export function streamRun(
  services: Services,
  runId: string,
  afterSeq: number,
  encoder: EventEncoder,
  opts: StreamRunOptions,
): Response {
  const slot = opts.slot ?? services.streams.reserve();
  const { stream, release } = slot.open({
    intervalMs: services.config.HEARTBEAT_MS,
    retryMs: opts.retryMs,
    onEnd: () => stop.abort(),
  });
  const stop = new AbortController();
  const sent = services.metrics.eventsSent;
  const labels = { dialect: opts.dialect };
  // A stream parked on an approval gate is closed after WAITING_STREAM_MAX_MS: its client
  // reconnects (`retry:`) with Last-Event-ID, so nothing is lost, and an abandoned tab does not
  // hold its place for the run's lifetime.
  let parked: ReturnType<typeof setTimeout> | undefined;
  const park = (waiting: boolean) => {
    clearTimeout(parked);
    parked = waiting
      ? setTimeout(
        () => {
          stream.close("approval wait; reconnect");
          stop.abort();
        },
        services.config.WAITING_STREAM_MAX_MS,
      )
      : undefined;
  };
  (async () => {
    let terminal = false;
    try {
      if (opts.prelude) stream.write(opts.prelude);
      // A stream whole without the log (the prelude ended it) does not subscribe at all.
      terminal = encoder.done;
      const batches = terminal ? [] : services.gateway.eventBatches(runId, afterSeq, stop.signal);
      for await (const batch of batches) {
        // One write per batch: a chunk per event would cost a socket write per event.
        let frames = "";
        let n = 0;
        for (const ev of batch) {
          frames += encoder.encode(ev);
          n++;
          if (encoder.done) {
            terminal = true;
            break;
          }
        }
        if (frames && !stream.write(frames)) break;
        sent.inc(labels, n);
        park(batch.at(-1)?.type === "approval_required");
        if (terminal) break;
      }
      terminal ||= encoder.done;
      if (!terminal && !stream.closed && encoder.finish) stream.write(encoder.finish());
      stream.close();
    } catch (err) {
      services.logger.error("client stream failed", { run_id: runId, error: err });
      stream.error(err);
    } finally {
      clearTimeout(parked);
      stop.abort();
      release();
    }
  })();
  return stream.toResponse({ "x-workflow-id": runId, ...opts.headers });
}

/** `POST /agui`: start or attach (workflow dialect), or an AG-UI run (AG-UI dialect). */
export async function handleStart(req: Request, services: Services): Promise<Response> {
  const url = new URL(req.url);
  const body = await readJson(req, services.config);
  if (isAguiInput(body)) return handleAguiRun(req, body, services);
  const input = validate(startRunSchema, body);
  const after = lastEventId(req, url);
  // The stream's place first: a 503 must not leave a started run behind.
  const slot = services.streams.reserve();
  try {
    const { run, created } = await services.gateway.start({
      runId: input.run_id,
      graph: input.graph_name,
      initialState: input.initial_state,
      dialect: "workflow",
    });
    if (!created) checkSameGraph(run, input.graph_name);
    return streamRun(services, run.id, after, workflowEncoder(), {
      retryMs: 2_000,
      dialect: "workflow",
      slot,
    });
  } catch (err) {
    slot.release();
    throw err;
  }
}

/**
 * An attach (a start naming an existing run) must ask for the run's own graph: another graph is a
 * different request that happens to reuse the id, and attaching would hide that.
 * @throws {ApiError} 409 `run_conflict`.
 */
export function checkSameGraph(run: RunSummary, graph: string): void {
  if (run.graph === graph) return;
  throw new ApiError(
    409,
    "run_conflict",
    `Run ${run.id} already exists with graph ${run.graph}, not ${graph}`,
    { graph: run.graph },
  );
}

/** The workflow dialect: `id:`/`event:`/`data:` frames; ends after the terminal event. */
export function workflowEncoder(): EventEncoder {
  let done = false;
  return {
    encode(ev) {
      if (
        ev.type === "workflow_complete" || ev.type === "workflow_error" ||
        ev.type === "workflow_aborted"
      ) done = true;
      return encodeWorkflowEvent(ev);
    },
    get done() {
      return done;
    },
  };
}

/** `GET /agui/runs/:id/events`: replay after `Last-Event-ID`, then tail until terminal. */
export async function handleEvents(
  req: Request,
  id: string,
  services: Services,
): Promise<Response> {
  const url = new URL(req.url);
  const runId = runIdParam(id);
  const after = lastEventId(req, url);
  const run = await services.store.get(runId);
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
    return streamAguiLog(services, run, after, {
      threadId: run.threadId ?? runId,
      runId,
      ids: true,
    });
  }
  return streamRun(services, runId, after, workflowEncoder(), {
    retryMs: 2_000,
    dialect: "workflow",
  });
}

/** `POST /agui/runs/:id/approval` → 202 with the run's summary. */
export async function handleApproval(
  req: Request,
  id: string,
  services: Services,
): Promise<Response> {
  const runId = runIdParam(id);
  const input = validate(approvalSchema, await readJson(req, services.config));
  const run = await services.gateway.approve(runId, input);
  return jsonResponse({ run: publicSummary(run), accepted: input }, 202);
}

/** `POST /agui/runs/:id/abort` → 202 with the run's summary. */
export async function handleAbort(id: string, services: Services): Promise<Response> {
  const run = await services.gateway.abort(runIdParam(id));
  return jsonResponse({ run: publicSummary(run) }, 202);
}

/** `GET /agui/runs/:id` → the run's summary. */
export async function handleGetRun(id: string, services: Services): Promise<Response> {
  const runId = runIdParam(id);
  const run = await services.store.get(runId);
  if (!run) throw new ApiError(404, "run_not_found", `No run with id ${runId}`);
  return jsonResponse({ run: publicSummary(run) });
}

/** `GET /agui/runs?status=&graph=&limit=&cursor=` → newest first, paginated. */
export async function handleListRuns(url: URL, services: Services): Promise<Response> {
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
    page = await services.store.list({
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
export async function handleGraphs(services: Services): Promise<Response> {
  try {
    return jsonResponse({ graphs: await services.upstream.graphs() });
  } catch (err) {
    throw new ApiError(
      502,
      "upstream_unreachable",
      "The workflow service did not list its graphs",
      {
        reason: err instanceof Error ? err.message : String(err),
      },
    );
  }
}

/** A summary without internal fields (the relay lease). */
export function publicSummary(run: RunSummary): Omit<RunSummary, "relay"> {
  const { relay: _relay, ...rest } = run;
  return rest;
}
