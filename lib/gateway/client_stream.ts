/**
 * One client's SSE response over a run's log: replay after `afterSeq`, then live, encoded by a
 * dialect's encoder, with heartbeats; ends on the terminal event (or when the encoder is done).
 * The client leaving ends only its subscription; the run goes on.
 * @module
 */
import type { StoredEvent } from "../events.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { StreamRegistry, StreamSlot } from "./streams.ts";

/** Encodes stored events for one client; `done` ends the stream early (AG-UI interrupts). */
export interface EventEncoder {
  /** The frames for one event (empty string: nothing to send). */
  encode(ev: StoredEvent): string;
  /** True once the client's stream should end. */
  readonly done: boolean;
  /** Frames to send if the log ends without a terminal event reaching this encoder. */
  finish?(): string;
}

/** Where a client stream reads a run's log from (the gateway). */
export interface RunFeed {
  /** The run's events after `afterSeq`, in batches, until the terminal event. */
  eventBatches(runId: string, afterSeq: number, signal?: AbortSignal): AsyncIterable<StoredEvent[]>;
}

/** What a client stream needs. */
export interface ClientStreamDeps {
  gateway: RunFeed;
  streams: StreamRegistry;
  metrics: Pick<Metrics, "eventsSent">;
  logger: Logger;
  /** `WAITING_STREAM_MAX_MS` unset: a stream parked at an approval gate stays open. */
  config: { HEARTBEAT_MS: number; WAITING_STREAM_MAX_MS?: number };
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

/** Streams a run's log to one client (see the module doc); returns the SSE response. */
export function streamRun(
  deps: ClientStreamDeps,
  runId: string,
  afterSeq: number,
  encoder: EventEncoder,
  opts: StreamRunOptions,
): Response {
  const slot = opts.slot ?? deps.streams.reserve();
  const { stream, release } = slot.open({
    intervalMs: deps.config.HEARTBEAT_MS,
    retryMs: opts.retryMs,
    onEnd: () => stop.abort(),
  });
  const stop = new AbortController();
  const sent = deps.metrics.eventsSent;
  const labels = { dialect: opts.dialect };
  // A stream parked on an approval gate is closed after WAITING_STREAM_MAX_MS: its client
  // reconnects (`retry:`) with Last-Event-ID, so nothing is lost, and an abandoned tab does not
  // hold its place for as long as the run waits for a person.
  const maxParkedMs = deps.config.WAITING_STREAM_MAX_MS;
  let parked: ReturnType<typeof setTimeout> | undefined;
  const park = (waiting: boolean) => {
    clearTimeout(parked);
    parked = waiting && maxParkedMs !== undefined
      ? setTimeout(() => {
        stream.close("approval wait; reconnect");
        stop.abort();
      }, maxParkedMs)
      : undefined;
  };
  (async () => {
    let terminal = false;
    try {
      if (opts.prelude) stream.write(opts.prelude);
      // A stream whole without the log (the prelude ended it) does not subscribe at all.
      terminal = encoder.done;
      const batches = terminal ? [] : deps.gateway.eventBatches(runId, afterSeq, stop.signal);
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
      deps.logger.error("client stream failed", { run_id: runId, error: err });
      stream.error(err);
    } finally {
      clearTimeout(parked);
      stop.abort();
      release();
    }
  })();
  return stream.toResponse({ "x-workflow-id": runId, ...opts.headers });
}
