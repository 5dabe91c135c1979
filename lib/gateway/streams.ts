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

/** Tracks client SSE streams. */
export class StreamRegistry {
  readonly #open = new Set<SseResponseStream>();
  readonly #metrics: Metrics;
  readonly #max: number;

  constructor(metrics: Metrics, maxStreams: number) {
    this.#metrics = metrics;
    this.#max = maxStreams;
  }

  /** Streams open now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Opens a client stream, or throws 503 when `MAX_STREAMS` are already open. `release` must be
   * called when the stream ends (however it ends).
   */
  open(options: SseStreamOptions): { stream: SseResponseStream; release: () => void } {
    if (this.#open.size >= this.#max) {
      this.#metrics.rejected.inc({ status: "503" });
      throw new ApiError(
        503,
        "too_many_streams",
        "Too many open streams; retry shortly",
        undefined,
        {
          "retry-after": "5",
        },
      );
    }
    const stream = createSseResponseStream({ ...options, counters: this.#metrics.sse });
    this.#open.add(stream);
    this.#metrics.openStreams = this.#open.size;
    let released = false;
    return {
      stream,
      release: () => {
        if (released) return;
        released = true;
        this.#open.delete(stream);
        this.#metrics.openStreams = this.#open.size;
      },
    };
  }

  /** Ends every open stream with a final comment (graceful shutdown: clients reconnect). */
  closeAll(comment: string): void {
    for (const s of this.#open) s.close(comment);
  }
}
