/**
 * One streaming exchange with the workflow service until its first body byte
 * ({@link Opening}): the deadline on that byte, the caller's abort, and what the answer must be
 * (2xx `text/event-stream`) before the body becomes the relay's stream.
 * @module
 */
import { unwatchAbort, watchAbort } from "../abort_watch.ts";
import { realScheduler, sharedTimer, TimerEntry } from "../sse/shared_timer.ts";
import {
  type BodyReader,
  isEventStream,
  statusError,
  UpstreamBody,
  upstreamStream,
} from "./upstream_body.ts";
import { UpstreamError } from "./upstream_errors.ts";
import { type BodySource, bodySource } from "./upstream_http1.ts";

/** The error of a deadline that passed before the `phase` came. */
export function timeoutError(what: string, ms: number, phase: string): UpstreamError {
  return new UpstreamError(`${what}: no ${phase} within ${ms} ms`, { code: "upstream_timeout" });
}

/** A body that ended before its first byte. */
function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
}

/**
 * One `UpstreamTransport.openStream` exchange until its first body byte: the deadline,
 * the request's abort and the caller's `signal`, in one object (its own abort listener, its
 * timer's argument), not a set of closures over a suspended frame: a start holds all of it for
 * as long as the service takes to answer.
 */
export class Opening {
  /** Aborts the request (the deadline, the caller's signal, a failure). */
  readonly ac = new AbortController();
  /** The deadline passed before the first byte. */
  timedOut = false;
  /** The body's reader once the answer came (cancelled by {@link finish}). */
  reader: BodyReader | undefined;
  #finished = false;
  #source: BodySource | undefined;
  readonly #deadline: TimerEntry<Opening>;
  readonly #what: string;
  readonly #ms: number;
  readonly #signal: AbortSignal | undefined;

  /**
   * An exchange named `what` in errors, whose first byte must come within `ms`, ended early by
   * `signal` when it aborts.
   */
  constructor(what: string, ms: number, signal: AbortSignal | undefined) {
    this.#what = what;
    this.#ms = ms;
    this.#signal = signal;
    // An entry of the process's shared timer, not a runtime timer per start.
    this.#deadline = new TimerEntry<Opening>(Opening.#expire, this);
    sharedTimer(realScheduler).schedule(this.#deadline, ms);
    if (signal) watchAbort(signal, this);
  }

  static #expire(self: Opening): void {
    self.timedOut = true;
    self.finish(timeoutError(self.#what, self.#ms, "first byte"));
  }

  /** The caller's `signal` aborted. */
  handleEvent(): void {
    this.finish(this.#signal!.reason);
  }

  /**
   * Runs once when the exchange is over: stops the timer, detaches from `signal`, and aborts
   * the request (a no-op after a clean end; after a cancel it closes the socket).
   */
  finish(reason?: unknown): void {
    if (this.#finished) return;
    this.#release();
    this.reader?.cancel(reason).catch(() => {});
    this.ac.abort(reason);
  }

  /**
   * The answer came: a 2xx `text/event-stream` one is read up to its first chunk.
   * @throws {UpstreamError} another status or content type.
   */
  answer(res: Response): ReadableStream<Uint8Array> | Promise<ReadableStream<Uint8Array>> {
    const what = this.#what;
    if (!res.ok) return statusError(res, what).then((e) => Promise.reject(e));
    if (!isEventStream(res)) {
      const refused = new UpstreamError(
        `${what} answered ${res.headers.get("content-type") ?? "no content type"}, ` +
          "not text/event-stream",
        { code: "upstream_not_sse", upstreamStatus: res.status },
      );
      if (!res.body) throw refused;
      return res.body.cancel().catch(() => {}).then(() => Promise.reject(refused));
    }
    if (!res.body) {
      this.finish();
      return emptyStream();
    }
    // The socket client's body is read directly (one stream layer per open body, not two).
    const source = bodySource(res.body);
    this.#source = source;
    const reader = this.reader = source ?? res.body.getReader();
    return reader.read().then((first) => this.#first(first), (error) => this.#broke(error));
  }

  /** The first chunk (or the body's end) came. */
  #first(first: ReadableStreamReadResult<Uint8Array>): ReadableStream<Uint8Array> {
    // A cancel from the deadline or from `signal` resolves a pending read as done.
    if (this.timedOut) throw timeoutError(this.#what, this.#ms, "first byte");
    this.#signal?.throwIfAborted();
    if (first.done) {
      this.finish();
      return emptyStream();
    }
    // Answered: the deadline and this call's abort wiring go now (an idle stream would hold
    // them as long as it lasts). The body watches `signal` itself from here, and cancelling
    // its read ends the request (closes the socket, or cancels fetch's body).
    if (!this.#finished) this.#release();
    this.#source?.detachSignal();
    return upstreamStream(new UpstreamBody(first.value, this.reader!, this.#signal));
  }

  /** The body failed before its first chunk. */
  #broke(error: unknown): never {
    if (this.timedOut) throw timeoutError(this.#what, this.#ms, "first byte");
    if (this.#signal?.aborted) throw this.#signal.reason;
    throw new UpstreamError(`${this.#what}: stream broke before the first byte`, {
      code: "upstream_error",
      cause: error,
    });
  }

  #release(): void {
    this.#finished = true;
    sharedTimer(realScheduler).cancel(this.#deadline);
    if (this.#signal) unwatchAbort(this.#signal, this);
  }
}
