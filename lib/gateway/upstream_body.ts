/**
 * Reading the workflow service's answers: bounded text bodies, the error of a non-2xx answer, and
 * the stream an SSE open resolves with. Bounded because a failing service's body is not ours to
 * buffer whole.
 * @module
 */
import { describe, PASS_THROUGH_STATUSES, UpstreamError } from "./upstream_errors.ts";
import { unwatchAbort, watchAbort } from "../abort_watch.ts";

/** Largest error / JSON body read from the upstream. */
const MAX_BODY_BYTES = 64 * 1024;

/** True when the answer's content type is `text/event-stream`. */
export function isEventStream(res: Response): boolean {
  const ct = res.headers.get("content-type");
  return ct !== null && /^\s*text\/event-stream\s*(;|$)/i.test(ct);
}

/** Reads at most `max` bytes of a body as text, cancelling the rest. */
export async function readBounded(res: Response, max = MAX_BODY_BYTES): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const r = await reader.read();
      if (r.done) return concatText(parts);
      parts.push(r.value);
      size += r.value.byteLength;
    }
    await reader.cancel().catch(() => {});
    return concatText(parts).slice(0, max);
  } finally {
    reader.releaseLock();
  }
}

function concatText(parts: Uint8Array[]): string {
  const decoder = new TextDecoder();
  let text = "";
  for (const p of parts) text += decoder.decode(p, { stream: true });
  return text + decoder.decode();
}

function parseMaybeJson(text: string): unknown {
  const t = text.trim();
  if (t === "") return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return t.length > 500 ? t.slice(0, 500) + "…" : t;
  }
}

/** Builds the error for a non-2xx answer, reading (bounded) and attaching its body. */
export async function statusError(res: Response, what: string): Promise<UpstreamError> {
  let body: unknown;
  try {
    body = parseMaybeJson(await readBounded(res));
  } catch {
    body = undefined;
  }
  const detail = body !== null && typeof body === "object" && "message" in body &&
      typeof body.message === "string"
    ? `: ${body.message}`
    : "";
  return new UpstreamError(`${what} answered ${res.status}${detail}`, {
    code: PASS_THROUGH_STATUSES.has(res.status) ? "upstream_client_error" : "upstream_status",
    upstreamStatus: res.status,
    body,
  });
}

/** What {@link UpstreamBody} reads: a stream's reader, or the socket client's body source. */
export interface BodyReader {
  /** The next chunk, or done. */
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /**
   * Like {@link read}, but the chunk may be a view of a buffer the next read reuses (valid only
   * until then); absent when the reader has no such mode.
   */
  readView?(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /** Ends the read (and the request under it). */
  cancel(reason?: unknown): Promise<void>;
}

/** The readers behind the streams `execute()` opened, for {@link directReader}. */
const direct = new WeakMap<ReadableStream<Uint8Array>, BodyReader>();

/**
 * The stream over `body`, readable either as a stream or, by the relay, directly through
 * {@link directReader} (no stream machinery per read: a read is one upstream read).
 */
export function upstreamStream(body: UpstreamBody): ReadableStream<Uint8Array> {
  const stream = new ReadableStream<Uint8Array>(body, { highWaterMark: 0 });
  direct.set(stream, body);
  return stream;
}

/**
 * The reader of a stream {@link upstreamStream} made, taken once (the stream is then not to be
 * read as a stream); undefined for any other stream.
 */
export function directReader(stream: ReadableStream<Uint8Array>): BodyReader | undefined {
  const reader = direct.get(stream);
  direct.delete(stream);
  return reader;
}

/**
 * The stream `execute()` resolves with: the first chunk, then the upstream body. Pull-based
 * (high-water mark 0) so a slow consumer slows the upstream read instead of buffering here.
 * It is the exchange's only state once the first chunk arrived: it watches the caller's signal
 * itself (as the listener object, no closure) and reads the body source directly, so an idle
 * stream holds one stream layer and no deadline or abort wiring.
 */
export class UpstreamBody implements UnderlyingDefaultSource<Uint8Array>, EventListenerObject {
  #first: Uint8Array | undefined;
  #reader: BodyReader;
  #external: AbortSignal | undefined;
  #ended = false;

  /**
   * `first` is the chunk already read (the proof of a live stream), `reader` the rest; an abort
   * of `external` (the caller's signal) cancels the read and is reported as that abort.
   */
  constructor(
    first: Uint8Array | undefined,
    reader: BodyReader,
    external: AbortSignal | undefined,
  ) {
    this.#first = first;
    this.#reader = reader;
    this.#external = external;
    if (external) watchAbort(external, this);
  }

  /**
   * The first chunk, then one upstream read per call: the same outcomes as {@link pull}. Not
   * async (one read per upstream read at live rates: no suspended frame, one reaction).
   */
  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    return this.#read(false);
  }

  /** Like {@link read}; the chunk may be a view valid until the next read (see `BodyReader`). */
  readView(): Promise<ReadableStreamReadResult<Uint8Array>> {
    return this.#read(true);
  }

  #read(view: boolean): Promise<ReadableStreamReadResult<Uint8Array>> {
    const first = this.#first;
    if (first !== undefined) {
      this.#first = undefined;
      return Promise.resolve({ done: false, value: first });
    }
    const reader = this.#reader;
    return (view && reader.readView ? reader.readView() : reader.read()).then(
      this.#onRead ??= (r) => this.#readDone(r),
      this.#onReadError ??= (error) => this.#readFailed(error),
    );
  }

  #onRead:
    | ((r: ReadableStreamReadResult<Uint8Array>) => ReadableStreamReadResult<Uint8Array>)
    | undefined;
  #onReadError: ((error: unknown) => never) | undefined;

  #readDone(r: ReadableStreamReadResult<Uint8Array>): ReadableStreamReadResult<Uint8Array> {
    if (r.done) {
      this.#end();
      if (this.#external?.aborted) throw this.#external.reason;
    }
    return r;
  }

  #readFailed(error: unknown): never {
    this.#end();
    throw this.#external?.aborted ? this.#external.reason : new UpstreamError(
      `workflow stream broke: ${describe(error)}`,
      { code: "upstream_error", cause: error },
    );
  }

  /** Hands on the first chunk, then one upstream read per pull. */
  pull(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> | void {
    if (this.#first !== undefined) {
      c.enqueue(this.#first);
      this.#first = undefined;
      return;
    }
    return this.#reader.read().then((r) => {
      if (r.done) {
        this.#end();
        // A cancel caused by `signal` also ends the read as done: report it as the abort it is.
        if (this.#external?.aborted) c.error(this.#external.reason);
        else c.close();
      } else {
        c.enqueue(r.value);
      }
    }, (error) => {
      this.#end();
      c.error(
        this.#external?.aborted ? this.#external.reason : new UpstreamError(
          `workflow stream broke: ${describe(error)}`,
          { code: "upstream_error", cause: error },
        ),
      );
    });
  }

  /** Cancels the upstream read and ends the exchange. */
  cancel(reason?: unknown): Promise<void> {
    this.#first = undefined;
    return this.#end(reason);
  }

  /** The caller's signal aborted: the pending read ends (as done) and is reported as the abort. */
  handleEvent(): void {
    this.#end(this.#external?.reason);
  }

  /** Ends the exchange once: detaches from the signal and cancels the read (closing the socket). */
  #end(reason?: unknown): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#ended = true;
    if (this.#external) unwatchAbort(this.#external, this);
    return this.#reader.cancel(reason).catch(() => {});
  }
}
