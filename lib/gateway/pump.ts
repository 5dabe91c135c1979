/**
 * The pump: reads one upstream stream to its end, whether or not anyone watches (a workflow is
 * business work, not a view of it): bytes → SSE frames → checks → batches → run log. The next
 * upstream read waits for the log write in flight, so what arrives meanwhile stays in the socket
 * and comes in one read, one batch (appends of many runs share commits, see `group_commit.ts`);
 * a stream arriving in bulk is read on meanwhile, its backlog bounded. A failing write is retried a few
 * times, then the run is failed loudly and stopped upstream, never left with a hole in its log.
 *
 * Each event's upstream id goes to the log with it; frames whose id is not after the last one
 * the pump holds are dropped (a rejoined stream may replay what is logged already). A stream
 * that breaks or ends before its terminal event is rejoined after that id (`reconnect`), and
 * appends are fenced to this relay (a relay taken over elsewhere stops writing).
 * @module
 */
import {
  checkEvent,
  ERROR_CODES,
  isTerminalType,
  quickCheck,
  type StoredEvent,
  UPSTREAM_HEARTBEAT_TYPES,
} from "../events.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { NewEvent, RunStore } from "../runs/store.ts";
import { summaryPatch } from "../runs/summary.ts";
import { createFrameParser, DEFAULT_MAX_FRAME_CHARS } from "../sse/parse.ts";
import { UpstreamError } from "./upstream.ts";
import { type BodyReader, directReader } from "./upstream_body.ts";
import { appendWithRetry, logWriteFailed } from "./pump_write.ts";

/**
 * Events per append call: the store packs them into pages and splits them into atomic writes
 * of ≤ ~720 KB, so this only bounds one call's work.
 */
const MAX_BATCH = 16_384;
/** Past this many unwritten events the pump stops reading the upstream until the log catches up. */
const MAX_BACKLOG = 32_768;
/**
 * A read at least this big means the service sends faster than one read per write can carry
 * (most reads of a live workflow are a few hundred bytes): the pump keeps reading while it
 * writes, so a bulk stream is not held to one read per commit.
 */
const BULK_READ_BYTES = 16 * 1024;
/** A read that took longer than this (ms) waited for its bytes: the stream is not ahead of us. */
const WAITING_READ_MS = 2;

/** A failure that ends a run with a gateway-made `workflow_error`. */
export interface Failure {
  /** The `workflow_error` code (one of `ERROR_CODES`). */
  code: string;
  /** The `workflow_error` message, for people. */
  message: string;
}

/** What a pump needs from the gateway around it. */
export interface PumpDeps {
  /** The run log the pump appends to. */
  store: RunStore;
  /** Counts relayed events, malformed frames, upstream errors and relay latency. */
  metrics: Metrics;
  /** The clock, ms since epoch (summary times). */
  now: () => number;
  /** True once the process is shutting down (a cut stream is then no fault of the run's). */
  closing: () => boolean;
  /** Ends the run with a gateway-made `workflow_error` (unless it already ended). */
  recordError: (runId: string, graph: string, log: Logger, failure: Failure) => Promise<void>;
  /** Asks the workflow service to stop the thread; never throws. */
  stopUpstream: (runId: string, log: Logger) => Promise<void>;
  /** Counts terminal events in `runsFinished`. */
  countFinished: (events: readonly NewEvent[], graph: string) => void;
  /** True when upstream id `a` comes after `b` (the upstream's order; dedupe). */
  isAfter: (a: string, b: string) => boolean;
  /**
   * Asked after each write of a live-rate stream, before its next read: a promise makes that
   * read wait for it (the relay pauses while its commits are under way, so a fast stream's
   * events come in fewer, bigger reads). Default: read at once.
   */
  pace?: () => Promise<void> | undefined;
  /** A monotonic clock in ms (how long reads wait, relay latency); default `performance.now`. */
  clock?: () => number;
}

/** What a reconnect found: the stream after the last id, or the failure to end the run with. */
export type Reconnected = { body: ReadableStream<Uint8Array> } | { failure: Failure };

/** The upstream client's own reader when it opened `body` (no stream machinery per read). */
function readerOf(body: ReadableStream<Uint8Array>): BodyReader {
  return directReader(body) ?? body.getReader();
}

/** One stream to pump. */
export interface PumpJob {
  /** The run the stream belongs to. */
  runId: string;
  /** The run's graph (metrics labels, gateway-made events). */
  graph: string;
  /**
   * The upstream SSE body to read. The pump takes its reader and clears this field: a stream
   * read through the upstream client's own reader is not read again, and an idle run should not
   * keep it (with its controller and queues) for as long as it waits.
   */
  body: ReadableStream<Uint8Array> | null;
  /** Where the pump logs, bound to the run. */
  log: Logger;
  /**
   * The step a decision just resumed: the gateway logged its own `approval_resolved`, so the
   * upstream's first one for that step is dropped.
   */
  resumedStep?: string;
  /** Gets the stream's reader, so a shutdown can cancel it; called with null when done. */
  onReader?: (reader: BodyReader | null) => void;
  /** The last upstream id the log holds: frames whose id is not after it are dropped. */
  afterId?: string | null;
  /** The type of the last event the log holds (a rejoin that adds nothing after a gate pauses). */
  lastType?: string;
  /** Appends only while this process relays the run (see `AppendOptions.relayOwner`). */
  relayOwner?: string;
  /**
   * Called when the stream broke or ended before a terminal event (not at a gate, not on
   * shutdown): a new stream after upstream id `afterId`, or the failure to record instead of
   * `failure`. Without it, `failure` is recorded.
   */
  reconnect?: (afterId: string | null, failure: Failure) => Promise<Reconnected>;
}

/** How a pump ended. */
export type PumpOutcome =
  /** The terminal event was logged. */
  | "finished"
  /** The stream ended right after a gate (logged now or before): the run waits. */
  | "paused"
  /** Shutdown, or the run was taken over or closed elsewhere: nothing recorded here. */
  | "stopped"
  /** A gateway-made `workflow_error` ended the run. */
  | "failed";

/** Reads `job.body` into the run log until the stream ends, then records how it ended. */
export async function pump(deps: PumpDeps, job: PumpJob): Promise<PumpOutcome> {
  const { store, metrics } = deps;
  const clock = deps.clock ?? monotonic;
  const { runId, graph, log, resumedStep } = job;
  let pending: NewEvent[] = [];
  let lastType: string | undefined = job.lastType;
  /** The last upstream id logged or about to be (the dedupe mark). */
  let lastId: string | null = job.afterId ?? null;
  const appendOpts = job.relayOwner === undefined ? undefined : { relayOwner: job.relayOwner };
  let terminal = false;
  /** An approval gate was logged: nothing more is read from this stream. */
  let atGate = false;
  let first = true;
  let writing: Promise<void> | null = null;
  let firstAppend = true;
  let lastReadBytes = 0;
  let writeError: unknown = null;
  let readAt = 0;
  /** How long the last read waited for its bytes (ms). */
  let readWaitMs = Infinity;
  let frameTooLarge = false;

  const onFrame = (f: { id?: string; event: string; data: string }) => {
    if (terminal || atGate) return;
    const type = f.event;
    if (UPSTREAM_HEARTBEAT_TYPES.has(type)) return;
    // Already logged (a rejoin replays from where the service was asked, or earlier).
    if (f.id !== undefined && lastId !== null && !deps.isAfter(f.id, lastId)) return;
    const check = quickCheck(type, f.data) ?? checkEvent(type, f.data);
    if (!check.ok) {
      metrics.malformedFrames.inc();
      log.warn("malformed upstream frame skipped", {
        event: type.slice(0, 80),
        reason: check.reason,
      });
      return;
    }
    const wasFirst = first;
    first = false;
    if (f.id !== undefined) lastId = f.id;
    if (
      wasFirst && type === "approval_resolved" && resumedStep !== undefined &&
      check.event.data.stepId === resumedStep
    ) return;
    let data = f.data;
    if (check.event.data.workflowId !== runId || data.includes("\n")) {
      // Keep the upstream's bytes when they are already what we store; rewrite only if not.
      data = JSON.stringify({ ...check.event.data, workflowId: runId });
    }
    // The upstream's own id goes along: a relay that rejoins the stream dedupes by it.
    pending.push(f.id === undefined ? { type, data } : { type, data, upstreamId: f.id });
    lastType = type;
    if (isTerminalType(type)) terminal = true;
    // A gate ends the stream (the contract); a rejoined stream that follows the thread live
    // could run on past it once a decision resumed the thread, and that continuation is the
    // decision's stream to relay, not this one's.
    if (type === "approval_required") atGate = true;
  };
  const parser = createFrameParser(onFrame, {
    onError: (err) => {
      if (err.type === "max-buffer-size-exceeded") frameTooLarge = true;
    },
  });

  // A drain of the backlog is a promise chain, one link per append (the hot path at live rates
  // is one read, one batch, one append): no suspended frame, and its callbacks are made once
  // per pump, not per append.
  /** The batch being appended, and its summary patch (for the retries). */
  let batch: NewEvent[] = [];
  let batchPatch: ReturnType<typeof summaryPatch> = {};
  const next = (): Promise<void> | undefined => {
    if (pending.length === 0 || writeError) {
      writing = null;
      return;
    }
    let appending: Promise<StoredEvent[]>;
    try {
      batch = pending.length <= MAX_BATCH ? pending : pending.slice(0, MAX_BATCH);
      pending = pending.length <= MAX_BATCH ? [] : pending.slice(MAX_BATCH);
      batchPatch = summaryPatch(batch, deps.now());
      // The stream's first events go ahead of other runs' queued appends: a new run's first
      // byte (and a resumed or taken-over run's next) does not wait behind a busy backlog.
      const opts = firstAppend ? { ...appendOpts, first: true } : appendOpts;
      firstAppend = false;
      appending = store.append(runId, batch, batchPatch, opts);
    } catch (err) {
      failed(err);
      return;
    }
    return appending.then(appended, retry);
  };
  const appended = (): Promise<void> | undefined => {
    try {
      metrics.eventsRelayed.inc(undefined, batch.length);
      deps.countFinished(batch, graph);
      if (readAt) metrics.relayLatency.observe((clock() - readAt) / 1000);
    } catch (err) {
      failed(err);
      return;
    }
    return next();
  };
  const retry = (err: unknown): Promise<void> =>
    appendWithRetry(store, runId, batch, batchPatch, log, appendOpts, err).then(appended, failed);
  const failed = (err: unknown): void => {
    writeError = err;
    pending = [];
    writing = null;
    // Stop reading at once, even while the upstream is silent: the run cannot go on.
    reader.cancel(err).catch(() => {});
  };
  const kick = () => {
    if (writing || pending.length === 0 || writeError) return;
    writing = next() ?? null;
  };

  if (job.body === null) throw new TypeError("the pump's body was taken already");
  let reader = readerOf(job.body);
  job.body = null;
  let failure: Failure | null = null;
  for (;;) {
    job.onReader?.(reader);
    failure = null;
    try {
      while (!terminal && !atGate && !writeError) {
        // Read once the write in flight is done: the bytes that came meanwhile are one read.
        // Unless the service sends in bulk (a replay, a backlog): then reads go on meanwhile
        // and the next write takes all that piled up, up to MAX_BACKLOG events.
        if (writing && (lastReadBytes < BULK_READ_BYTES || pending.length > MAX_BACKLOG)) {
          await writing;
          if (writeError) break;
          // A stream whose last read found its bytes waiting sends faster than the log
          // commits: under load its next read may wait a little (`PumpDeps.pace`), so more of
          // its events come per read. One whose reads wait for data is never held.
          if (lastReadBytes < BULK_READ_BYTES && readWaitMs < WAITING_READ_MS) {
            const pause = deps.pace?.();
            if (pause) await pause;
          }
        }
        // A view of the connection's buffer where the reader has one: the parser decodes it
        // before the next read (it copies only a character split between reads).
        const readFrom = clock();
        const { done, value } = await (reader.readView ? reader.readView() : reader.read());
        if (done) {
          parser.end();
          break;
        }
        lastReadBytes = value.byteLength;
        metrics.upstream.reads++;
        readAt = clock();
        readWaitMs = readAt - readFrom;
        parser.feed(value);
        kick();
        if (frameTooLarge) {
          metrics.malformedFrames.inc();
          failure = {
            code: ERROR_CODES.frameTooLarge,
            message: "The workflow service sent an event larger than the gateway accepts " +
              `(${DEFAULT_MAX_FRAME_CHARS} characters); the run cannot be read past it`,
          };
          break;
        }
      }
    } catch (err) {
      if (!terminal) {
        const e = err instanceof UpstreamError ? err : null;
        // The cause (socket errors, addresses) goes to this log; the run log gets generic words.
        log.warn("upstream stream failed", { error: err });
        failure = {
          code: e?.code ?? ERROR_CODES.upstreamError,
          message: e?.publicMessage ?? "The workflow service's stream failed",
        };
      }
    } finally {
      job.onReader?.(null);
      // Ends the upstream request in every case (a no-op when the body already ended).
      reader.cancel().catch(() => {});
    }
    if (terminal || writeError || deps.closing() || !job.reconnect) break;
    if (failure?.code === ERROR_CODES.frameTooLarge) break;
    if (!failure && lastType === "approval_required") break;
    // Broken, or ended early: the events so far are committed first, then the stream is
    // rejoined after the last id held (the service may have gone on meanwhile).
    while (writing) await writing;
    kick();
    while (writing) await writing;
    if (writeError) break;
    parser.end();
    const cut: Failure = failure ?? {
      code: ERROR_CODES.upstreamEnded,
      message: "The workflow service ended the stream without a terminal event",
    };
    log.warn("upstream stream cut; rejoining", { ...cut, after_upstream_id: lastId });
    const next = await job.reconnect(lastId, cut);
    if ("failure" in next) {
      failure = next.failure;
      break;
    }
    reader = readerOf(next.body);
  }
  while (writing) await writing;
  kick();
  while (writing) await writing;

  if (writeError) return await logWriteFailed(deps, runId, graph, writeError, log);
  if (terminal) {
    log.info("run finished", { last: lastType });
    return "finished";
  }
  if (deps.closing()) {
    // Shutting down mid-run: the lease is released after this, and another gateway takes over.
    log.warn("relay stopped by shutdown before the run ended");
    return "stopped";
  }
  if (failure?.code === ERROR_CODES.shutdown) return "stopped";
  if (!failure && lastType === "approval_required") {
    // A stream that ends right after an approval gate is a pause, not a fault.
    log.info("run paused for approval");
    return "paused";
  }
  failure ??= {
    code: ERROR_CODES.upstreamEnded,
    message: "The workflow service ended the stream without a terminal event",
  };
  metrics.upstreamErrors.inc({ code: failure.code });
  log.error("upstream stream ended badly", { ...failure });
  await deps.recordError(runId, graph, log, failure);
  if (failure.code === ERROR_CODES.frameTooLarge) await deps.stopUpstream(runId, log);
  return "failed";
}

function monotonic(): number {
  return performance.now();
}
