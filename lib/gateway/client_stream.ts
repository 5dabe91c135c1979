/**
 * One client's SSE response over a run's log: replay after `afterSeq`, then live, encoded by a
 * dialect's encoder, with heartbeats; ends on the terminal event (or when the encoder is done).
 * The client leaving ends only its subscription; the run goes on.
 * @module
 */
import type { StoredEvent } from "../events.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { SseResponseStream, SseSource } from "../sse/heartbeat.ts";
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
  /**
   * The run's events after `afterSeq`, in batches, until the terminal event; `return()` ends it
   * at once, even while a `next()` waits.
   */
  eventBatches(
    runId: string,
    afterSeq: number,
    signal?: AbortSignal,
  ): AsyncIterableIterator<StoredEvent[]>;
}

/** What a client stream needs. */
export interface ClientStreamDeps {
  /** Where the stream reads the run's events from, in batches after a sequence number. */
  gateway: RunFeed;
  /** The open client streams; a stream takes a slot unless given one. */
  streams: StreamRegistry;
  /** Counts the events written to clients (`eventsSent`). */
  metrics: Pick<Metrics, "eventsSent">;
  /** Where a failed client stream is logged. */
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
  const feed = new RunFeedSource(deps, runId, afterSeq, encoder, opts);
  const { stream, release } = slot.open({
    intervalMs: deps.config.HEARTBEAT_MS,
    retryMs: opts.retryMs,
    source: feed,
    onEnd: () => feed.end(),
  });
  feed.release = release;
  return stream.toResponse({ "x-workflow-id": runId, ...opts.headers });
}

const noop = () => {};

/**
 * Feeds one client's stream from the run's log when the stream asks (see `SseSource`): one
 * batch, encoded, per write. Nothing of it runs while the run is idle: the stream's one pending
 * `pull` waits on the subscription's wait, with no loop or generator of its own suspended.
 */
class RunFeedSource implements SseSource {
  /** Gives the stream's place back (set once the stream is open). */
  release: () => void = noop;
  readonly #deps: ClientStreamDeps;
  readonly #runId: string;
  readonly #afterSeq: number;
  readonly #encoder: EventEncoder;
  readonly #labels: { dialect: string };
  readonly #prelude: string | undefined;
  #batches: AsyncIterableIterator<StoredEvent[]> | undefined;
  #started = false;
  #ended = false;
  #parked: ReturnType<typeof setTimeout> | undefined;

  constructor(
    deps: ClientStreamDeps,
    runId: string,
    afterSeq: number,
    encoder: EventEncoder,
    opts: StreamRunOptions,
  ) {
    this.#deps = deps;
    this.#runId = runId;
    this.#afterSeq = afterSeq;
    this.#encoder = encoder;
    this.#labels = { dialect: opts.dialect };
    this.#prelude = opts.prelude;
  }

  pull(stream: SseResponseStream): void | Promise<void> {
    if (this.#ended) return;
    try {
      if (!this.#started) {
        this.#started = true;
        if (this.#prelude) stream.write(this.#prelude);
        // A stream whole without the log (the prelude ended it) does not subscribe at all.
        if (this.#encoder.done) return this.#close(stream, true);
        this.#batches = this.#deps.gateway.eventBatches(this.#runId, this.#afterSeq);
      }
    } catch (err) {
      return this.#fail(stream, err);
    }
    return this.#next(stream);
  }

  /**
   * Waits for the next batch. A promise chain, not an async loop: while the run is idle, the
   * stream's pending pull is one callback on the subscription's wait, no suspended frame.
   */
  #next(stream: SseResponseStream): Promise<void> {
    let next: Promise<IteratorResult<StoredEvent[]>>;
    try {
      next = this.#batches!.next();
    } catch (err) {
      this.#fail(stream, err);
      return Promise.resolve();
    }
    // The callbacks are made once per client stream (its stream never changes), not per batch.
    this.#onBatch ??= (r) => this.#write(stream, r);
    this.#onFail ??= (err) => this.#fail(stream, err);
    return next.then(this.#onBatch, this.#onFail);
  }

  #onBatch: ((r: IteratorResult<StoredEvent[]>) => void | Promise<void>) | undefined;
  #onFail: ((err: unknown) => void) | undefined;

  /** One batch: encoded and written at once; nothing to write (all filtered): the next one. */
  #write(stream: SseResponseStream, r: IteratorResult<StoredEvent[]>): void | Promise<void> {
    if (this.#ended) return;
    const encoder = this.#encoder;
    try {
      if (r.done) return this.#close(stream, encoder.done);
      // One write per batch: a chunk per event would cost a socket write per event.
      let frames = "";
      let n = 0;
      let terminal = false;
      for (const ev of r.value) {
        frames += encoder.encode(ev);
        n++;
        if (encoder.done) {
          terminal = true;
          break;
        }
      }
      if (frames && !stream.write(frames)) return this.#close(stream, encoder.done);
      this.#deps.metrics.eventsSent.inc(this.#labels, n);
      this.#park(stream, r.value.at(-1)?.type === "approval_required");
      if (terminal) return this.#close(stream, true);
      // Wrote: the stream asks again.
      if (frames) return;
    } catch (err) {
      return this.#fail(stream, err);
    }
    return this.#next(stream);
  }

  #fail(stream: SseResponseStream, err: unknown): void {
    this.#deps.logger.error("client stream failed", { run_id: this.#runId, error: err });
    stream.error(err);
    this.end();
  }

  /** The stream ended (client gone, overflow, a gate's time limit, the log's end): clean up. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#parked);
    void this.#batches?.return?.();
    this.release();
  }

  /** The log ended for this client: the encoder's closing frames unless it is done, then close. */
  #close(stream: SseResponseStream, terminal: boolean): void {
    terminal ||= this.#encoder.done;
    if (!terminal && !stream.closed && this.#encoder.finish) stream.write(this.#encoder.finish());
    stream.close();
    this.end();
  }

  /**
   * A stream parked on an approval gate is closed after WAITING_STREAM_MAX_MS: its client
   * reconnects (`retry:`) with Last-Event-ID, so nothing is lost, and an abandoned tab does not
   * hold its place for as long as the run waits for a person.
   */
  #park(stream: SseResponseStream, waiting: boolean): void {
    clearTimeout(this.#parked);
    const maxParkedMs = this.#deps.config.WAITING_STREAM_MAX_MS;
    this.#parked = waiting && maxParkedMs !== undefined
      ? setTimeout(() => {
        stream.close("approval wait; reconnect");
        this.end();
      }, maxParkedMs)
      : undefined;
  }
}
