/**
 * The body of one subscriber's SSE response: the relay pushes whole frames in, the stream adds
 * heartbeat comments after `intervalMs` of silence, bounds what a slow client can make us queue,
 * and reports the client leaving. Built for many idle streams: one object, one controller, no
 * timer of its own (every stream's next heartbeat waits in one {@link SharedTimer} per scheduler:
 * one runtime timer for all streams), and no per-stream closures (the ReadableStream's source is
 * a tiny object pointing back at the stream, and the timer callback is one shared function that
 * receives the stream as an argument).
 * @module
 */
import {
  encodeComment,
  encodeEvent,
  encodeRetry,
  SSE_HEADERS,
  type SseEventInit,
  textEncoder,
} from "./encode.ts";
import {
  realScheduler,
  type Scheduler,
  type SharedTimer,
  sharedTimer,
  TimerEntry,
} from "./shared_timer.ts";

export { realScheduler, type Scheduler, type TimerHandle } from "./shared_timer.ts";

/** Counters shared by many streams (the `/metrics` page reads them). */
export interface SseStreamCounters {
  /** Heartbeat comments sent. */
  heartbeats: number;
  /** Streams ended because their client fell too far behind. */
  overflows: number;
}

/**
 * What feeds a stream from the client's side of the queue: `pull(stream)` is called when the
 * stream opens and again each time the previous call settled, whatever the client has read
 * (writes are bounded by `maxQueuedBytes`, not by the client's pace: a slow client overflows).
 * It writes what it has, or waits until it has something. While it waits, the stream holds only
 * the one pending call: no loop of the caller's stays suspended on the stream.
 */
export interface SseSource {
  /** Writes the next frames to `stream` (or ends it); settles once it wrote or ended. */
  pull(stream: SseResponseStream): void | Promise<void>;
}

/** Why a subscriber stream ended without `close()`. */
export type SseStreamEnd = "cancel" | "overflow";

/** Options of {@link SseResponseStream}. */
export interface SseStreamOptions {
  /** Silence before a heartbeat (`HEARTBEAT_MS`); default 15000. */
  intervalMs?: number;
  /** The heartbeat comment text; default `heartbeat` (sent as `: heartbeat\n\n`). */
  heartbeatText?: string;
  /**
   * A comment sent right after the headers; default none (`false`). Clients such as
   * `@microsoft/fetch-event-source` dispatch every block, a comment-only one included, as an
   * empty message, so a stream opens with its first event rather than with a comment.
   */
  openComment?: string | false;
  /**
   * When set, a `retry: <ms>` field goes out in the stream's first block: the opening comment's
   * when there is one, else the first frame written (an event, or a heartbeat), never a block of
   * its own. A non-negative integer (the constructor throws a RangeError otherwise).
   */
  retryMs?: number;
  /**
   * The most bytes the stream may hold for a client that does not read. A write beyond it ends
   * the stream with an error, so the client reconnects with `Last-Event-ID` and replays from the
   * run log instead of us buffering without bound. A single frame bigger than the limit still
   * goes through when nothing is queued. Default 256 KiB.
   */
  maxQueuedBytes?: number;
  /** Clock and timers; default real ones. */
  scheduler?: Scheduler;
  /**
   * Called once when the stream ends other than by `close()`/`error()`: `cancel` when the client
   * disconnected (the body was cancelled), `overflow` when it fell behind. The relay
   * unsubscribes here.
   */
  onEnd?: (why: SseStreamEnd, reason: unknown) => void;
  /** Shared counters to increment. */
  counters?: SseStreamCounters;
  /** Feeds the stream when the stream asks for more (see {@link SseSource}); default none. */
  source?: SseSource;
}

/** The error a too-slow subscriber's stream ends with. */
export class SlowSubscriberError extends Error {
  /** Bytes that were waiting for the client. */
  readonly queuedBytes: number;
  /** The stream gave up on a client with `queuedBytes` bytes still waiting for it. */
  constructor(queuedBytes: number) {
    super(`subscriber fell behind: ${queuedBytes} bytes queued`);
    this.name = "SlowSubscriberError";
    this.queuedBytes = queuedBytes;
  }
}

/** Default heartbeat interval (`HEARTBEAT_MS`). */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** Default bound on bytes queued for one client. */
export const DEFAULT_MAX_QUEUED_BYTES = 256 * 1024;

const DEFAULT_HEARTBEAT = textEncoder.encode(encodeComment("heartbeat"));
/**
 * The ReadableStream's high-water mark: far above any queue, so a pull source is asked again as
 * soon as its last call settled (the stream's own bound, `maxQueuedBytes`, is checked on write).
 */
const HIGH_WATER = 2 ** 50;
const LF = 10;

function byteSize(chunk: Uint8Array): number {
  return chunk.byteLength;
}

// Module-private hooks into the class, set by its static block: one shared timer callback (so
// arming a timer allocates no closure) and the source's cancel, without public methods for them.
let onTimer: (stream: SseResponseStream) => void;
let onCancel: (stream: SseResponseStream, reason: unknown) => void;
let onPull: (stream: SseResponseStream) => void | Promise<void>;

/** The ReadableStream source: one small object per stream, no closures. */
class Source implements UnderlyingDefaultSource<Uint8Array> {
  controller!: ReadableStreamDefaultController<Uint8Array>;
  constructor(readonly owner: SseResponseStream) {}
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
  }
  cancel(reason?: unknown): void {
    onCancel(this.owner, reason);
  }
}

/** The source of a stream fed by an {@link SseSource}. */
class PullSource extends Source {
  pull(): void | Promise<void> {
    return onPull(this.owner);
  }
}

function endsWithBlankLine(frame: string | Uint8Array): boolean {
  if (typeof frame === "string") return frame.endsWith("\n\n");
  const n = frame.byteLength;
  return n >= 2 && frame[n - 1] === LF && frame[n - 2] === LF;
}

/**
 * A subscriber's SSE response body. Write whole frames with {@link write} (pre-encoded, possibly
 * several at once) or {@link writeEvent}; serve {@link readable} (or {@link toResponse}).
 *
 * Only whole frames can be written: `write` refuses text that does not end with a blank line, and
 * with LF-only framing a chunk ending in `\n\n` always ends on a frame boundary. So a heartbeat,
 * queued between two writes, can never land inside a frame.
 */
export class SseResponseStream {
  /** The response body. */
  readonly readable: ReadableStream<Uint8Array>;
  #heartbeats = 0;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #state: "open" | "closed" = "open";
  /** This stream's next heartbeat check, in the scheduler's shared timer. */
  readonly #due: TimerEntry<SseResponseStream>;
  readonly #timers: SharedTimer;
  #lastWrite: number;
  readonly #interval: number;
  readonly #max: number;
  readonly #heartbeat: Uint8Array;
  readonly #scheduler: Scheduler;
  readonly #onEnd: SseStreamOptions["onEnd"];
  readonly #counters: SseStreamCounters | undefined;
  readonly #source: SseSource | undefined;
  /** Fields (`retry:`) that go in front of the first block written, then never again. */
  #prefix: Uint8Array | null = null;

  /** Opens the stream: queues the opening comment / retry block and arms the heartbeat timer. */
  constructor(options: SseStreamOptions = {}) {
    this.#interval = options.intervalMs ?? DEFAULT_HEARTBEAT_MS;
    if (!(this.#interval > 0)) throw new RangeError("intervalMs must be positive");
    this.#max = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.#heartbeat = options.heartbeatText === undefined
      ? DEFAULT_HEARTBEAT
      : textEncoder.encode(encodeComment(options.heartbeatText));
    this.#scheduler = options.scheduler ?? realScheduler;
    this.#timers = sharedTimer(this.#scheduler);
    this.#due = new TimerEntry<SseResponseStream>(onTimer, this);
    this.#onEnd = options.onEnd;
    this.#counters = options.counters;
    this.#source = options.source;
    this.#lastWrite = this.#scheduler.now();
    const source = this.#source ? new PullSource(this) : new Source(this);
    // start() runs synchronously inside the constructor, so the controller is there right after.
    this.readable = new ReadableStream<Uint8Array>(source, {
      highWaterMark: HIGH_WATER,
      size: byteSize,
    });
    this.#controller = source.controller;
    const open = options.openComment ?? false;
    // `retry: N\n` without its blank line: it joins the first block.
    const retry = options.retryMs === undefined ? "" : encodeRetry(options.retryMs).slice(0, -1);
    if (open !== false) {
      this.#controller.enqueue(textEncoder.encode(encodeComment(open).slice(0, -1) + retry + "\n"));
    } else if (retry !== "") {
      this.#prefix = textEncoder.encode(retry);
    }
    this.#arm(this.#interval);
  }

  static {
    onTimer = (stream) => stream.#tick();
    onCancel = (stream, reason) => stream.#cancelled(reason);
    onPull = (stream) => stream.#state === "open" ? stream.#source?.pull(stream) : undefined;
  }

  #cancelled(reason: unknown): void {
    if (this.#state === "closed") return;
    this.#finish();
    this.#onEnd?.("cancel", reason);
  }

  /** True once the stream was closed, errored, cancelled or overflowed. */
  get closed(): boolean {
    return this.#state === "closed";
  }

  /** Heartbeats this stream sent. */
  get heartbeats(): number {
    return this.#heartbeats;
  }

  /** Bytes written but not yet taken by the client (0 once the stream is no longer open). */
  get queuedBytes(): number {
    const d = this.#state === "open" ? this.#controller.desiredSize : null;
    return d === null ? 0 : HIGH_WATER - d;
  }

  /**
   * Queues one or more whole, already encoded frames (each ending with a blank line).
   * @returns false when the stream is no longer open (the frame is dropped) or it just
   *   overflowed and ended.
   * @throws {TypeError} when `frames` does not end on a frame boundary.
   */
  write(frames: string | Uint8Array): boolean {
    if (!endsWithBlankLine(frames)) {
      throw new TypeError("SseResponseStream.write takes whole frames ending with a blank line");
    }
    if (this.#state === "closed") return false;
    return this.#push(typeof frames === "string" ? textEncoder.encode(frames) : frames);
  }

  /** Encodes and queues one event. @returns like {@link write}. */
  writeEvent(event: SseEventInit): boolean {
    if (this.#state === "closed") return false;
    return this.#push(textEncoder.encode(encodeEvent(event)));
  }

  /** Queues a comment block. @returns like {@link write}. */
  writeComment(text: string): boolean {
    if (this.#state === "closed") return false;
    return this.#push(textEncoder.encode(encodeComment(text)));
  }

  /**
   * Ends the response gracefully after what is queued, optionally with a last comment (a
   * shutdown notice). Idempotent; does not call `onEnd`.
   */
  close(finalComment?: string): void {
    if (this.#state === "closed") return;
    if (finalComment !== undefined) {
      this.#controller.enqueue(textEncoder.encode(encodeComment(finalComment)));
    }
    this.#finish();
    this.#controller.close();
  }

  /**
   * Ends the response abruptly: the client sees a network error and reconnects (queued bytes
   * are dropped). Idempotent; does not call `onEnd`.
   */
  error(reason?: unknown): void {
    if (this.#state === "closed") return;
    this.#finish();
    this.#controller.error(reason);
  }

  /** A `Response` serving this stream with the SSE headers (plus `headers`). */
  toResponse(headers?: HeadersInit): Response {
    const h = new Headers(SSE_HEADERS);
    if (headers) new Headers(headers).forEach((v, k) => h.set(k, v));
    return new Response(this.readable, { status: 200, headers: h });
  }

  #tick(): void {
    if (this.#state === "closed") return;
    // Writes do not re-arm the timer (that would cost a clear + set per event); instead the
    // timer, when it fires, sleeps again for whatever is left since the last write.
    const idle = this.#scheduler.now() - this.#lastWrite;
    if (idle < this.#interval) {
      this.#arm(this.#interval - idle);
      return;
    }
    if (!this.#push(this.#heartbeat.slice())) return;
    this.#heartbeats++;
    if (this.#counters) this.#counters.heartbeats++;
  }

  #push(chunk: Uint8Array): boolean {
    if (this.#prefix !== null) {
      const joined = new Uint8Array(this.#prefix.byteLength + chunk.byteLength);
      joined.set(this.#prefix);
      joined.set(chunk, this.#prefix.byteLength);
      chunk = joined;
      this.#prefix = null;
    }
    const queued = this.queuedBytes;
    if (queued > 0 && queued + chunk.byteLength > this.#max) {
      const error = new SlowSubscriberError(queued + chunk.byteLength);
      this.#finish();
      this.#controller.error(error);
      if (this.#counters) this.#counters.overflows++;
      this.#onEnd?.("overflow", error);
      return false;
    }
    this.#controller.enqueue(chunk);
    this.#lastWrite = this.#scheduler.now();
    if (!this.#due.scheduled) this.#arm(this.#interval);
    return true;
  }

  #arm(ms: number): void {
    this.#timers.schedule(this.#due, ms);
  }

  #finish(): void {
    this.#state = "closed";
    this.#timers.cancel(this.#due);
  }
}

/** Creates a subscriber stream; see {@link SseResponseStream}. */
export function createSseResponseStream(options?: SseStreamOptions): SseResponseStream {
  return new SseResponseStream(options);
}
