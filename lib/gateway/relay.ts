/**
 * The relay: one direction of flow, upstream → run log → subscribers (DESIGN §1).
 *
 * A {@link Gateway} starts runs on the workflow service and pumps each upstream stream into the
 * run log; client connections never read the upstream, they subscribe to the log. That one rule
 * gives resume (replay after `Last-Event-ID`), many viewers per run, approvals handled by another
 * process, and no duplicate launches (a run id names one log, created atomically once).
 * @module
 */
import {
  checkEvent,
  type Decision,
  ERROR_CODES,
  isTerminalType,
  type RunSummary,
  type StoredEvent,
  UPSTREAM_HEARTBEAT_TYPES,
} from "../events.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { ApiError } from "../http/errors.ts";
import {
  EventTooLargeError,
  RunClosedError,
  RunNotFoundError,
  type RunStore,
  UnexpectedStateError,
} from "../runs/store.ts";
import { createFrameParser, DEFAULT_MAX_FRAME_CHARS } from "../sse/parse.ts";
import { type Upstream, UpstreamError } from "./upstream.ts";

/** What the gateway needs; everything is injected so tests run it against real parts. */
export interface GatewayDeps {
  store: RunStore;
  upstream: Upstream;
  metrics: Metrics;
  logger: Logger;
  /**
   * How long this process's relay lease lasts without renewal (ms). One lease per process (not
   * per run), renewed every third of it: a run whose relaying process let it lapse is lost.
   */
  leaseMs?: number;
  /** Clock (ms since epoch). */
  now?: () => number;
  /** This process's identity in run leases. */
  instanceId?: string;
}

/** Input of {@link Gateway.start}. */
export interface StartInput {
  runId?: string;
  graph: string;
  initialState: Record<string, unknown>;
  dialect: RunSummary["dialect"];
  /** AG-UI runs: the conversation the run belongs to. */
  threadId?: string;
}

/** A subscription that can also hand over what it already holds (`live_tail.ts` does). */
interface BatchingIterator extends AsyncIterableIterator<StoredEvent> {
  takeBuffered?(): StoredEvent[];
}

/** One unit of the log: an event type and its data as JSON text. */
interface PendingEvent {
  type: string;
  data: string;
}

const TERMINAL_STATUSES: ReadonlySet<string> = new Set([
  "complete",
  "rejected",
  "error",
  "aborted",
]);
/**
 * Events per append call: the store packs them into pages and splits them into atomic writes
 * of ≤ ~720 KB, so this only bounds one call's work (it was 500 when each event was a KV row).
 */
const MAX_BATCH = 16_384;
/** Past this many unwritten events the pump stops reading the upstream until the log catches up. */
const MAX_BACKLOG = 32_768;

/** True when a run summary's status is final. */
export function isFinished(run: Pick<RunSummary, "status">): boolean {
  return TERMINAL_STATUSES.has(run.status);
}

function nowIso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The summary change a batch of events implies: approval gates, resumes and terminal events move
 * the run's status; everything else only counts.
 */
export function summaryPatch(batch: PendingEvent[], now: number): Partial<RunSummary> {
  const patch: Partial<RunSummary> = {};
  for (const ev of batch) {
    switch (ev.type) {
      case "approval_required": {
        const d = JSON.parse(ev.data);
        patch.status = "waiting_approval";
        patch.pendingApproval = {
          stepId: String(d.stepId),
          message: String(d.message ?? ""),
          since: nowIso(now),
          ...(Array.isArray(d.options) ? { options: d.options.map(String) } : {}),
        };
        break;
      }
      case "approval_resolved":
      case "step_started":
        if (patch.status === "waiting_approval") break;
        patch.status = "running";
        patch.pendingApproval = undefined;
        break;
      case "workflow_complete": {
        const d = JSON.parse(ev.data);
        patch.status = d.status === "rejected" ? "rejected" : "complete";
        patch.finishedAt = nowIso(now);
        patch.pendingApproval = undefined;
        break;
      }
      case "workflow_error": {
        const d = JSON.parse(ev.data);
        patch.status = "error";
        patch.error = { code: String(d.code), message: String(d.message) };
        patch.finishedAt = nowIso(now);
        patch.pendingApproval = undefined;
        break;
      }
      case "workflow_aborted":
        patch.status = "aborted";
        patch.finishedAt = nowIso(now);
        patch.pendingApproval = undefined;
        break;
    }
  }
  return patch;
}

const HOT_FIELDS: Readonly<Record<string, string>> = {
  step_started: "step",
  step_completed: "step",
  workflow_initialized: "graph",
};

/**
 * The hot event types checked by hand, without zod (which cost more than everything else per
 * frame): returns a passing check only when the data surely matches its schema in
 * `lib/events.ts` (this test is stricter, never looser); null sends the frame to
 * {@link checkEvent}, which also words the reason of a failure.
 */
export function quickCheck(
  type: string,
  dataText: string,
): { ok: true; event: { type: string; data: Record<string, unknown> }; known: true } | null {
  const field = HOT_FIELDS[type];
  if (field === undefined) return null;
  let d: unknown;
  try {
    d = JSON.parse(dataText);
  } catch {
    return null;
  }
  if (typeof d !== "object" || d === null || Array.isArray(d)) return null;
  const o = d as Record<string, unknown>;
  const wf = o.workflowId;
  const ts = o.ts;
  const v = o[field];
  if (typeof wf !== "string" || wf === "") return null;
  if (!(typeof ts === "string" ? ts !== "" : typeof ts === "number" && Number.isFinite(ts))) {
    return null;
  }
  if (typeof v !== "string" || v === "") return null;
  if (type === "step_completed" && !("result" in o)) return null;
  return { ok: true, event: { type, data: o }, known: true };
}

/** The data JSON of a gateway-made event. */
function eventData(runId: string, ts: number, fields: Record<string, unknown>): string {
  return JSON.stringify({ workflowId: runId, ts: nowIso(ts), ...fields });
}

/**
 * Starts runs, pumps upstream streams into the run log, and serves the log to subscribers.
 */
export class Gateway {
  readonly #store: RunStore;
  readonly #upstream: Upstream;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #owner: string;
  /** Runs whose upstream this process is reading, and the pump's completion. */
  readonly #pumps = new Map<string, Promise<void>>();
  /** Relay-lease watchdogs of runs that have subscribers here: one timer per run. */
  readonly #watchdogs = new Map<
    string,
    { count: number; timer: ReturnType<typeof setInterval> }
  >();
  /** The upstream readers of those pumps, cancelled on shutdown. */
  readonly #readers = new Map<string, ReadableStreamDefaultReader<Uint8Array>>();
  /** Runs between their claim and the start of their pump (waiting for `/execute`). */
  readonly #starting = new Set<string>();
  /** Aborts upstream calls still waiting for an answer when the process shuts down. */
  readonly #stop = new AbortController();
  /** The process lease: its first write, and the renewal timer. */
  #alive?: { first: Promise<void>; timer: ReturnType<typeof setInterval> };
  /** Known graph names from the workflow service, refreshed at most once a minute. */
  #graphs?: { names: Set<string>; at: number };
  #closing = false;

  constructor(deps: GatewayDeps) {
    this.#store = deps.store;
    this.#upstream = deps.upstream;
    this.#metrics = deps.metrics;
    this.#log = deps.logger;
    this.#leaseMs = deps.leaseMs ?? 30_000;
    this.#now = deps.now ?? Date.now;
    this.#owner = deps.instanceId ?? crypto.randomUUID();
  }

  /** The run store (read access for routes). */
  get store(): RunStore {
    return this.#store;
  }

  /** Run ids this process is relaying now. */
  get activeRelays(): number {
    return this.#pumps.size;
  }

  /**
   * Starts a run, or attaches to it when `runId` names an existing run (never a second launch).
   * Pre-stream failures throw {@link ApiError} (404 unknown graph, 502/504 upstream faults); the
   * run log then records the failure as the run's `workflow_error`.
   */
  async start(input: StartInput): Promise<{ run: RunSummary; created: boolean }> {
    if (this.#closing) throw new ApiError(503, "shutting_down", "The gateway is shutting down");
    const runId = input.runId ?? crypto.randomUUID();
    const existing = await this.#store.get(runId);
    if (existing) return { run: existing, created: false };
    await this.#checkGraph(input.graph);
    // The lease must exist before the run names this process as its relay.
    await this.#ensureAlive();

    const now = this.#now();
    const prompt = typeof input.initialState.prompt === "string"
      ? input.initialState.prompt.slice(0, 200)
      : undefined;
    const summary: RunSummary = {
      id: runId,
      graph: input.graph,
      dialect: input.dialect,
      ...(input.threadId !== undefined ? { threadId: input.threadId } : {}),
      status: "running",
      createdAt: nowIso(now),
      updatedAt: nowIso(now),
      eventCount: 0,
      ...(prompt !== undefined ? { prompt } : {}),
      relay: { owner: this.#owner, leaseUntil: now + this.#leaseMs },
    };
    if (!(await this.#store.create(summary))) {
      // Lost a race with a concurrent start of the same id: attach to the winner's run.
      const run = await this.#store.get(runId);
      if (run) return { run, created: false };
      throw new ApiError(409, "conflict", "The run was created and removed concurrently");
    }
    // Marked in the same tick as the create resolves: no watchdog can look in between and
    // take the run for one without a relay.
    this.#starting.add(runId);
    try {
      this.#metrics.runsStarted.inc({ graph: input.graph });
      await this.#execute(
        runId,
        summary,
        input,
        this.#log.child({ run_id: runId, graph: input.graph }),
      );
      return { run: summary, created: true };
    } finally {
      this.#starting.delete(runId);
    }
  }

  /** Calls the upstream's `/execute` for a new run and starts its pump. */
  async #execute(
    runId: string,
    summary: RunSummary,
    input: StartInput,
    log: Logger,
  ): Promise<void> {
    let body: ReadableStream<Uint8Array>;
    try {
      body = await this.#upstream.execute({
        graph_name: input.graph,
        initial_state: input.initialState,
        thread_id: runId,
      }, this.#stop.signal);
    } catch (err) {
      if (this.#stop.signal.aborted) {
        log.warn("shutdown while the workflow service was starting the run");
        await this.#recordError(runId, summary.graph, log, {
          code: ERROR_CODES.shutdown,
          message: "The gateway shut down while the workflow service was starting the run",
        });
        await this.#upstream.abort(runId).catch(() => {});
        throw new ApiError(503, "shutting_down", "The gateway is shutting down");
      }
      const e = asUpstreamError(err);
      this.#metrics.upstreamErrors.inc({ code: e.code });
      log.error("upstream refused the run", { code: e.code, error: e.message });
      await this.#recordError(runId, summary.graph, log, { code: e.code, message: e.message });
      throw toApiError(e);
    }
    this.#launch(runId, input.graph, body, log, false);
  }

  /**
   * Records a human decision and resumes the upstream thread; the continuation's events append
   * to the same run. 404 unknown run; 409 when `stepId` is not the step waiting.
   */
  async approve(
    runId: string,
    decision: { stepId: string; decision: Decision; comment?: string },
  ): Promise<RunSummary> {
    if (this.#closing) throw new ApiError(503, "shutting_down", "The gateway is shutting down");
    const run = await this.#requireRun(runId);
    const waiting = (s: RunSummary) =>
      s.status === "waiting_approval" && s.pendingApproval?.stepId === decision.stepId;
    const notWaiting = (s: RunSummary) =>
      new ApiError(
        409,
        "not_waiting",
        `Step ${decision.stepId} is not waiting for approval`,
        {
          status: s.status,
          ...(s.pendingApproval ? { waiting: s.pendingApproval.stepId } : {}),
        },
      );
    if (!waiting(run)) throw notWaiting(run);
    await this.#ensureAlive();
    const log = this.#log.child({ run_id: runId, graph: run.graph });
    // Claim the decision first (compare-and-set on the summary): of two decisions sent at once,
    // on this process or another, exactly one resumes the workflow.
    const now = this.#now();
    try {
      await this.#store.update(runId, {
        status: "running",
        pendingApproval: undefined,
        relay: { owner: this.#owner, leaseUntil: now + this.#leaseMs },
      }, { expect: waiting });
    } catch (err) {
      if (err instanceof UnexpectedStateError) throw notWaiting(err.current);
      throw err;
    }
    this.#starting.add(runId);
    try {
      let body: ReadableStream<Uint8Array>;
      try {
        body = await this.#upstream.execute({
          graph_name: run.graph,
          initial_state: {},
          thread_id: runId,
          resume: decision,
        }, this.#stop.signal);
      } catch (err) {
        if (this.#stop.signal.aborted) {
          throw new ApiError(503, "shutting_down", "The gateway is shutting down");
        }
        const e = asUpstreamError(err);
        this.#metrics.upstreamErrors.inc({ code: e.code });
        log.error("upstream refused the resume", { code: e.code, error: e.message });
        // The gate is still closed upstream: hand the decision back so it can be made again.
        await this.#store.update(runId, {
          status: "waiting_approval",
          pendingApproval: run.pendingApproval,
        }).catch((revertErr) => log.warn("could not reopen the approval", { error: revertErr }));
        throw toApiError(e);
      }
      const resolved: PendingEvent = {
        type: "approval_resolved",
        data: eventData(runId, this.#now(), {
          stepId: decision.stepId,
          decision: decision.decision,
          ...(decision.comment ? { comment: decision.comment } : {}),
        }),
      };
      let stored: StoredEvent;
      try {
        [stored] = await this.#store.append(runId, [resolved]);
      } catch (err) {
        await body.cancel().catch(() => {});
        if (err instanceof RunClosedError) {
          throw new ApiError(409, "run_finished", `Run ${runId} has already finished`);
        }
        throw err;
      }
      log.info("approval recorded", { step: decision.stepId, decision: decision.decision });
      this.#launch(runId, run.graph, body, log, true, decision.stepId);
      return { ...run, status: "running", pendingApproval: undefined, eventCount: stored.seq };
    } finally {
      this.#starting.delete(runId);
    }
  }

  /**
   * Aborts a run: asks the upstream to stop the thread, waits briefly for its `workflow_aborted`,
   * and records one itself when the upstream did not (a paused run has no upstream stream).
   */
  async abort(runId: string): Promise<RunSummary> {
    const run = await this.#requireRun(runId);
    if (isFinished(run)) {
      throw new ApiError(409, "run_finished", `Run ${runId} has already finished (${run.status})`);
    }
    const log = this.#log.child({ run_id: runId, graph: run.graph });
    try {
      await this.#upstream.abort(runId);
    } catch (err) {
      log.warn("upstream abort failed; recording the abort locally", { error: err });
    }
    const pump = this.#pumps.get(runId);
    if (pump) await settleWithin(pump, 5_000);
    else if (run.status === "running" && await this.#relayedElsewhere(run)) {
      // Another live process reads the stream and will record how it ends: give it the time
      // to, so the run gets one terminal event and that process no error.
      await this.#waitFinished(runId, 5_000);
    }
    const after = await this.#store.get(runId);
    if (after && !isFinished(after)) {
      await this.#appendSafe(
        runId,
        [{
          type: "workflow_aborted",
          data: eventData(runId, this.#now(), {}),
        }],
        after.graph,
        log,
      );
    }
    log.info("run aborted");
    return (await this.#store.get(runId)) ?? run;
  }

  /**
   * The run's events after `afterSeq`: replay, then live tail until the terminal event. When the
   * run is `running` but no live relay holds its lease, a `workflow_error {code: relay_lost}` is
   * recorded so the subscriber is told plainly instead of waiting forever.
   */
  async *events(
    runId: string,
    afterSeq: number,
    signal?: AbortSignal,
  ): AsyncGenerator<StoredEvent> {
    for await (const batch of this.eventBatches(runId, afterSeq, signal)) yield* batch;
  }

  /**
   * Like {@link events}, in batches: whatever the log handed over at once (a replay page, or an
   * upstream read's worth of live events) comes as one array, so a client stream can write it
   * as one chunk. The terminal event, when present, ends the last batch.
   */
  async *eventBatches(
    runId: string,
    afterSeq: number,
    signal?: AbortSignal,
  ): AsyncGenerator<StoredEvent[]> {
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const unwatch = this.#watchRelay(runId);
    try {
      await this.#checkRelay(runId);
      const sub = this.#store.subscribe(runId, afterSeq, stop.signal) as BatchingIterator;
      for (;;) {
        const first = await sub.next();
        if (first.done) return;
        if (isTerminalType(first.value.type)) {
          yield [first.value];
          return;
        }
        const more = sub.takeBuffered?.();
        if (!more || more.length === 0) {
          yield [first.value];
          continue;
        }
        const batch = [first.value];
        for (const ev of more) batch.push(ev);
        yield batch;
        if (isTerminalType(batch[batch.length - 1].type)) return;
      }
    } finally {
      unwatch();
      signal?.removeEventListener("abort", onAbort);
      stop.abort();
    }
  }

  /** Graph names the upstream offers, or null when it cannot say (then execute decides). */
  async #checkGraph(graph: string): Promise<void> {
    const now = this.#now();
    if (!this.#graphs || now - this.#graphs.at > 60_000) {
      try {
        const list = await this.#upstream.graphs();
        this.#graphs = { names: new Set(list.map((g) => g.name)), at: now };
      } catch {
        return;
      }
    }
    if (!this.#graphs.names.has(graph)) {
      throw new ApiError(404, "unknown_graph", `Unknown graph: ${graph}`, {
        graphs: [...this.#graphs.names],
      });
    }
  }

  async #requireRun(runId: string): Promise<RunSummary> {
    const run = await this.#store.get(runId);
    if (!run) throw new ApiError(404, "run_not_found", `No run with id ${runId}`);
    return run;
  }

  /**
   * Checks a run's relay now and every half lease while anyone watches the run: one timer per
   * run, however many subscribers (thousands of viewers must not mean thousands of KV reads).
   * Returns the function that stops watching.
   */
  #watchRelay(runId: string): () => void {
    let w = this.#watchdogs.get(runId);
    if (!w) {
      const timer = setInterval(() => this.#checkRelay(runId), Math.max(50, this.#leaseMs / 2));
      w = { count: 0, timer };
      this.#watchdogs.set(runId, w);
    }
    w.count++;
    const entry = w;
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      if (--entry.count === 0) {
        clearInterval(entry.timer);
        if (this.#watchdogs.get(runId) === entry) this.#watchdogs.delete(runId);
      }
    };
  }

  /** True when another process that is still alive relays `run`. */
  async #relayedElsewhere(run: RunSummary): Promise<boolean> {
    const owner = run.relay?.owner;
    if (owner === undefined || owner === this.#owner) return false;
    return (await this.#store.relayAliveUntil(owner)) > this.#now();
  }

  /** Polls the run until it has finished, at most `ms`. */
  async #waitFinished(runId: string, ms: number): Promise<void> {
    const until = this.#now() + ms;
    while (this.#now() < until) {
      const run = await this.#store.get(runId);
      if (!run || isFinished(run)) return;
      await delay(50);
    }
  }

  /**
   * Records relay_lost for a running run that no process relays any more: neither a pump or a
   * start here, nor a live process elsewhere (its lease lapsed: it died or was evicted).
   */
  async #checkRelay(runId: string): Promise<void> {
    if (this.#closing || this.#pumps.has(runId) || this.#starting.has(runId)) return;
    try {
      const run = await this.#store.get(runId);
      if (!run || run.status !== "running") return;
      if (await this.#relayedElsewhere(run)) return;
      // Read again: the run may have ended, or a pump started here, while we looked.
      if (this.#pumps.has(runId) || this.#starting.has(runId)) return;
      const log = this.#log.child({ run_id: runId, graph: run.graph });
      log.error("relay lost: no process reads this run's upstream stream any more");
      this.#metrics.upstreamErrors.inc({ code: ERROR_CODES.relayLost });
      await this.#recordError(runId, run.graph, log, {
        code: ERROR_CODES.relayLost,
        message: "The gateway relaying this run stopped before the run ended; " +
          "the run was stopped at the workflow service",
      });
      // Nobody can watch or steer the thread any more (its stream is gone): stop it, so the
      // workflow does no business work behind a run the log already calls failed.
      await this.#upstream.abort(runId).catch((err) =>
        log.warn("could not stop the orphaned upstream thread", { error: err })
      );
    } catch (err) {
      this.#log.warn("relay check failed", { run_id: runId, error: err });
    }
  }

  /** Ends the run with a gateway-made `workflow_error` (unless it already ended). */
  #recordError(
    runId: string,
    graph: string,
    log: Logger,
    failure: { code: string; message: string },
  ): Promise<void> {
    return this.#appendSafe(
      runId,
      [{ type: "workflow_error", data: eventData(runId, this.#now(), { ...failure, retries: 0 }) }],
      graph,
      log,
    );
  }

  /** Appends gateway-made events unless the run already ended (one terminal per run). */
  async #appendSafe(
    runId: string,
    events: PendingEvent[],
    graph: string,
    log: Logger,
  ): Promise<void> {
    try {
      const run = await this.#store.get(runId);
      if (!run || isFinished(run)) return;
      const now = this.#now();
      const patch = { ...summaryPatch(events, now), updatedAt: nowIso(now) };
      await this.#store.append(runId, events, patch);
      this.#countFinished(events, graph);
    } catch (err) {
      log.error("could not record a gateway event", { error: err });
    }
  }

  #countFinished(events: PendingEvent[], graph: string): void {
    for (const ev of events) {
      if (!isTerminalType(ev.type)) continue;
      const status = ev.type === "workflow_complete"
        ? (JSON.parse(ev.data).status === "rejected" ? "rejected" : "complete")
        : ev.type === "workflow_error"
        ? "error"
        : "aborted";
      this.#metrics.runsFinished.inc({ graph, status });
    }
  }

  #launch(
    runId: string,
    graph: string,
    body: ReadableStream<Uint8Array>,
    log: Logger,
    resumed: boolean,
    resumedStep?: string,
  ): void {
    const done = this.#pump(runId, graph, body, log, resumed ? resumedStep : undefined)
      .catch((err) => log.error("relay failed", { error: err }))
      .finally(() => {
        if (this.#pumps.get(runId) === done) this.#pumps.delete(runId);
      });
    this.#pumps.set(runId, done);
  }

  /**
   * Reads one upstream stream to its end, whether or not anyone is watching (a workflow is
   * business work, not a view of it). Frames are parsed and validated as they arrive and
   * appended in batches: one log write per upstream read, more under load (group commit).
   */
  async #pump(
    runId: string,
    graph: string,
    body: ReadableStream<Uint8Array>,
    log: Logger,
    resumedStep: string | undefined,
  ): Promise<void> {
    let pending: PendingEvent[] = [];
    let lastType: string | undefined;
    let terminal = false;
    let first = true;
    let writing: Promise<void> | null = null;
    let writeError: unknown = null;
    let readAt = 0;
    let frameTooLarge = false;

    const onFrame = (f: { event: string; data: string }) => {
      if (terminal) return;
      const type = f.event;
      if (UPSTREAM_HEARTBEAT_TYPES.has(type)) return;
      const check = quickCheck(type, f.data) ?? checkEvent(type, f.data);
      if (!check.ok) {
        this.#metrics.malformedFrames.inc();
        log.warn("malformed upstream frame skipped", { event: type, reason: check.reason });
        return;
      }
      const wasFirst = first;
      first = false;
      // The gateway records its own approval_resolved when it accepts the decision.
      if (
        wasFirst && type === "approval_resolved" && resumedStep !== undefined &&
        check.event.data.stepId === resumedStep
      ) return;
      let data = f.data;
      if (check.event.data.workflowId !== runId || data.includes("\n")) {
        // Keep the upstream's bytes when they are already what we store; rewrite only if not.
        data = JSON.stringify({ ...check.event.data, workflowId: runId });
      }
      pending.push({ type, data });
      lastType = type;
      if (isTerminalType(type)) terminal = true;
    };
    const parser = createFrameParser(onFrame, {
      onError: (err) => {
        if (err.type === "max-buffer-size-exceeded") frameTooLarge = true;
      },
    });

    const flush = async () => {
      while (pending.length > 0) {
        const batch = pending.length <= MAX_BATCH ? pending : pending.slice(0, MAX_BATCH);
        pending = pending.length <= MAX_BATCH ? [] : pending.slice(MAX_BATCH);
        const now = this.#now();
        const patch: Partial<RunSummary> = summaryPatch(batch, now);
        await this.#appendWithRetry(runId, batch, patch, log);
        this.#metrics.eventsRelayed.inc(undefined, batch.length);
        this.#countFinished(batch, graph);
        if (readAt) this.#metrics.relayLatency.observe((performance.now() - readAt) / 1000);
      }
    };
    const kick = () => {
      if (writing || pending.length === 0 || writeError) return;
      writing = flush().catch((err) => {
        writeError = err;
        pending = [];
        // Stop reading at once, even while the upstream is silent: the run cannot go on.
        reader.cancel(err).catch(() => {});
      }).finally(() => {
        writing = null;
        if (pending.length > 0 && !writeError) kick();
      });
    };

    const reader = body.getReader();
    this.#readers.set(runId, reader);
    let failure: { code: string; message: string } | null = null;
    try {
      while (!terminal && !writeError) {
        const { done, value } = await reader.read();
        if (done) {
          parser.end();
          break;
        }
        readAt = performance.now();
        parser.feed(value);
        kick();
        if (frameTooLarge) {
          this.#metrics.malformedFrames.inc();
          failure = {
            code: ERROR_CODES.frameTooLarge,
            message: "The workflow service sent an event larger than the gateway accepts " +
              `(${DEFAULT_MAX_FRAME_CHARS} characters); the run cannot be read past it`,
          };
          break;
        }
        if (pending.length > MAX_BACKLOG && writing) await writing;
      }
    } catch (err) {
      if (!terminal) {
        const e = err instanceof UpstreamError ? err : null;
        failure = {
          code: e?.code ?? ERROR_CODES.upstreamError,
          message: `Upstream stream failed: ${err instanceof Error ? err.message : String(err)}`,
        };
      }
    } finally {
      this.#readers.delete(runId);
      // Ends the upstream request in every case (a no-op when the body already ended).
      reader.cancel().catch(() => {});
    }
    while (writing) await writing;
    kick();
    while (writing) await writing;

    if (writeError) {
      await this.#logWriteFailed(runId, graph, writeError, log);
      return;
    }
    if (terminal) {
      log.info("run finished", { last: lastType });
      return;
    }
    if (this.#closing) {
      // Shutting down mid-run: the lease is given up, so whoever resumes learns relay_lost.
      log.warn("relay stopped by shutdown before the run ended");
      return;
    }
    if (!failure && lastType === "approval_required") {
      // A stream that ends right after an approval gate is a pause, not a fault.
      log.info("run paused for approval");
      return;
    }
    failure ??= {
      code: ERROR_CODES.upstreamEnded,
      message: "The workflow service ended the stream without a terminal event",
    };
    this.#metrics.upstreamErrors.inc({ code: failure.code });
    log.error("upstream stream ended badly", failure);
    await this.#recordError(runId, graph, log, failure);
    if (failure.code === ERROR_CODES.frameTooLarge) {
      await this.#upstream.abort(runId).catch(() => {});
    }
  }

  /**
   * The log refused the relay's writes. A run that another process closed meanwhile (an abort
   * handled there) simply ended; otherwise the run is failed loudly and stopped upstream, never
   * left running with a hole in its log.
   */
  async #logWriteFailed(runId: string, graph: string, err: unknown, log: Logger): Promise<void> {
    const run = await this.#store.get(runId).catch(() => null);
    if (err instanceof RunClosedError && run && isFinished(run)) {
      log.info("run ended elsewhere while this relay was reading it", { status: run.status });
      return;
    }
    this.#metrics.upstreamErrors.inc({ code: ERROR_CODES.logWriteFailed });
    log.error("run log append failed; the run is stopped", { error: err });
    await this.#recordError(runId, graph, log, {
      code: ERROR_CODES.logWriteFailed,
      message: "The run log could not store the run's events; the run was stopped",
    });
    await this.#upstream.abort(runId).catch((e) =>
      log.warn("could not stop the workflow upstream", { error: e })
    );
  }

  async #appendWithRetry(
    runId: string,
    batch: PendingEvent[],
    patch: Partial<RunSummary>,
    log: Logger,
  ): Promise<void> {
    for (let attempt = 0;; attempt++) {
      try {
        await this.#store.append(runId, batch, patch);
        return;
      } catch (err) {
        // A closed run (its terminal is already logged), a vanished one, or an event the log
        // can never hold: retrying cannot help.
        if (
          attempt >= 4 || err instanceof RunClosedError || err instanceof RunNotFoundError ||
          err instanceof EventTooLargeError || err instanceof TypeError
        ) {
          throw err;
        }
        log.warn("run log append failed, retrying", { attempt: attempt + 1, error: err });
        await delay(50 * 2 ** attempt);
      }
    }
  }

  /**
   * Graceful shutdown: refuse new work, stop upstream calls still waiting for an answer, and
   * give up this process's lease, so a client resuming on another instance learns at once that
   * the relay is gone.
   */
  async shutdown(): Promise<void> {
    this.#closing = true;
    this.#stop.abort(new Error("The gateway is shutting down"));
    if (this.#alive) {
      clearInterval(this.#alive.timer);
      await this.#alive.first.catch(() => {});
      await this.#store.setRelayAlive(this.#owner, 0).catch(() => {});
    }
    for (const reader of this.#readers.values()) reader.cancel("shutdown").catch(() => {});
  }

  /** Writes this process's lease now and renews it every third of its length from then on. */
  #ensureAlive(): Promise<void> {
    if (this.#alive) return this.#alive.first;
    const renew = () => this.#store.setRelayAlive(this.#owner, this.#now() + this.#leaseMs);
    const first = renew();
    const timer = setInterval(() => {
      renew().catch((err) => this.#log.warn("relay lease renewal failed", { error: err }));
    }, Math.max(50, Math.floor(this.#leaseMs / 3)));
    this.#alive = { first, timer };
    first.catch(() => {
      // A failed first write: try again on the next call rather than trusting a lease never set.
      if (this.#alive?.first === first) {
        clearInterval(timer);
        this.#alive = undefined;
      }
    });
    return first;
  }

  /** Waits for every local pump to finish (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.#pumps.size > 0) await Promise.allSettled([...this.#pumps.values()]);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `p` to settle, but at most `ms`; never leaves a timer behind. */
async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      p.catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function asUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  return new UpstreamError(err instanceof Error ? err.message : String(err), {
    code: "upstream_error",
    cause: err,
  });
}

function toApiError(e: UpstreamError): ApiError {
  const body = e.body as { error?: unknown; message?: unknown } | undefined;
  if (e.status < 500 && typeof body?.error === "string") {
    // A 4xx the client can act on (unknown graph, conflict): keep the service's own words.
    const message = typeof body.message === "string" ? body.message : e.message;
    return new ApiError(e.status, body.error, message);
  }
  const { error, message, details } = e.toErrorBody();
  return new ApiError(e.status, error, message, details);
}
