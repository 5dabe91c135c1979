/**
 * The registry of open client streams: enforces `MAX_STREAMS` (503 with `Retry-After` past it),
 * feeds the open-streams gauge, and closes every stream with a final comment on shutdown.
 * @module
 */
import { ApiError } from "../http/errors.ts";
import type { Metrics } from "../metrics.ts";
import {
  createSseResponseStream,
  type SseResponseStream,
  type SseStreamOptions,
} from "../sse/heartbeat.ts";

/**
 * A place for one client stream, taken before the request does anything with side effects
 * (starting a run, recording a decision), so that a 503 never leaves a run behind that nobody
 * streams. `release` gives the place back whether or not the stream was opened; it is idempotent.
 */
export interface StreamSlot {
  /**
   * Opens the stream in this place (at most once). Its `release` is the slot's `release`.
   * @throws {Error} when the slot was already opened or released.
   */
  open(options: SseStreamOptions): { stream: SseResponseStream; release: () => void };
  /** Gives the place back (closing nothing: the caller owns the stream). Idempotent. */
  release(): void;
}

/** Tracks client SSE streams. */
export class StreamRegistry {
  readonly #open = new Set<SseResponseStream>();
  readonly #metrics: Metrics;
  readonly #max: number;
  /** Slots taken and not yet opened or released. */
  #reserved = 0;

  /** A registry of at most `maxStreams` open or reserved streams; refusals count in `metrics`. */
  constructor(metrics: Metrics, maxStreams: number) {
    this.#metrics = metrics;
    this.#max = maxStreams;
  }

  /** Streams open now. */
  get size(): number {
    return this.#open.size;
  }

  /** Slots reserved and not yet opened (a request between its checks and its first byte). */
  get reserved(): number {
    return this.#reserved;
  }

  /**
   * Takes a slot for one stream, or throws 503 when `MAX_STREAMS` are open or reserved already.
   * @throws {ApiError} 503 `too_many_streams` with `Retry-After`.
   */
  reserve(): StreamSlot {
    if (this.#open.size + this.#reserved >= this.#max) {
      this.#metrics.rejected.inc({ status: "503" });
      throw new ApiError(
        503,
        "too_many_streams",
        "Too many open streams; retry shortly",
        undefined,
        { "retry-after": "5" },
      );
    }
    this.#reserved++;
    let state: "reserved" | "open" | "released" = "reserved";
    let stream: SseResponseStream | undefined;
    const release = () => {
      if (state === "reserved") this.#reserved--;
      else if (state === "open") {
        this.#open.delete(stream!);
        this.#metrics.openStreams = this.#open.size;
      }
      state = "released";
    };
    return {
      open: (options) => {
        if (state !== "reserved") throw new Error(`stream slot already ${state}`);
        stream = createSseResponseStream({ ...options, counters: this.#metrics.sse });
        this.#reserved--;
        state = "open";
        this.#open.add(stream);
        this.#metrics.openStreams = this.#open.size;
        return { stream, release };
      },
      release,
    };
  }

  /**
   * Opens a client stream, or throws 503 when `MAX_STREAMS` are already open or reserved.
   * `release` must be called when the stream ends (however it ends).
   */
  open(options: SseStreamOptions): { stream: SseResponseStream; release: () => void } {
    return this.reserve().open(options);
  }

  /** Ends every open stream with a final comment (graceful shutdown: clients reconnect). */
  closeAll(comment: string): void {
    for (const s of this.#open) s.close(comment);
  }
}
