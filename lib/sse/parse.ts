/**
 * SSE parsing over bytes: a thin layer on eventsource-parser that decodes UTF-8 incrementally
 * (a multi-byte character may be split between reads), drops a leading BOM, and reports whole
 * frames synchronously, so one upstream read yields its N frames in one go and the relay can
 * batch per read.
 * @module
 */
import { createParser, type EventSourceParser, ParseError } from "eventsource-parser";

export { ParseError };

/** One parsed SSE event. */
export interface SseFrame {
  /** The block's `id:` field, if the block had one. */
  id?: string;
  /** The `event:` field, `message` when absent (as browsers report it). */
  event: string;
  /** The `data:` lines joined with LF. */
  data: string;
}

/** Optional callbacks and limits of a frame parser. */
export interface FrameParserOptions {
  /** A comment line (`: text`), without the colon and one leading space. */
  onComment?: (text: string) => void;
  /** A valid `retry:` field. */
  onRetry?: (ms: number) => void;
  /**
   * A parse problem: an unknown field, an invalid retry, or the buffer limit (after which the
   * parser ignores further input; the stream should be treated as broken).
   */
  onError?: (error: ParseError) => void;
  /**
   * The most characters one unfinished line plus one unfinished event may hold: a stream that
   * never ends a frame must not grow memory without bound. Default 8 MiB of text.
   */
  maxBufferSize?: number;
}

/** A push parser: bytes in, frames out through the callback given at creation. */
export interface FrameParser {
  /** Parses a chunk; callbacks for every frame it completes run before this returns. */
  feed(chunk: Uint8Array | string): void;
  /**
   * Ends the input: flushes the UTF-8 decoder and discards an unfinished event (the SSE rule
   * for a stream that ends mid-event). The parser can then be fed a new stream.
   */
  end(): void;
  /** The last `id:` seen in any block (a block with only an `id:` updates it too). */
  readonly lastEventId: string | undefined;
  /** True after the buffer limit was exceeded; further input is ignored until `end()`. */
  readonly failed: boolean;
}

/** Default limit of buffered text in one frame: 8 MiB. */
export const DEFAULT_MAX_FRAME_CHARS = 8 * 1024 * 1024;

class BytesFrameParser implements FrameParser {
  lastEventId: string | undefined = undefined;
  failed = false;
  #decoder = new TextDecoder("utf-8", { ignoreBOM: false });
  #atStart = true;
  #parser: EventSourceParser;

  constructor(onFrame: (frame: SseFrame) => void, options: FrameParserOptions) {
    const onError = options.onError;
    this.#parser = createParser({
      onEvent: (m) =>
        onFrame(
          m.id === undefined ? { event: m.event ?? "message", data: m.data } : {
            id: m.id,
            event: m.event ?? "message",
            data: m.data,
          },
        ),
      onId: (id) => {
        this.lastEventId = id;
      },
      onComment: options.onComment,
      onRetry: options.onRetry,
      onError: (error) => {
        if (error.type === "max-buffer-size-exceeded") this.failed = true;
        onError?.(error);
      },
      maxBufferSize: options.maxBufferSize ?? DEFAULT_MAX_FRAME_CHARS,
    });
  }

  feed(chunk: Uint8Array | string): void {
    if (this.failed) return;
    let text = typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (text === "") return;
    // TextDecoder drops a BOM at the start of its stream, but a string input (or a decoder
    // reset by end()) would keep it: strip one U+FEFF at the very start of the input ourselves.
    if (this.#atStart) {
      this.#atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.#parser.feed(text);
  }

  end(): void {
    const rest = this.#decoder.decode();
    if (rest !== "" && !this.failed) this.#parser.feed(rest);
    this.#parser.reset();
    this.#atStart = true;
    this.failed = false;
  }
}

/**
 * Creates a push parser. `onFrame` runs synchronously inside `feed()` for each completed event;
 * blocks with no `data:` line (only `id:`, `retry:` or comments) produce no frame.
 */
export function createFrameParser(
  onFrame: (frame: SseFrame) => void,
  options: FrameParserOptions = {},
): FrameParser {
  return new BytesFrameParser(onFrame, options);
}

/**
 * Reads an SSE byte stream and yields, per read, the frames that read completed (reads that
 * complete no frame yield nothing). Returning early from the loop cancels the stream.
 */
export async function* readSseBatches(
  body: ReadableStream<Uint8Array>,
  options: FrameParserOptions = {},
): AsyncGenerator<SseFrame[], void, undefined> {
  let batch: SseFrame[] = [];
  const parser = createFrameParser((f) => batch.push(f), options);
  const reader = body.getReader();
  let done = false;
  try {
    while (true) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        parser.end();
      } else {
        parser.feed(r.value);
      }
      if (batch.length > 0) {
        const out = batch;
        batch = [];
        yield out;
      }
      if (done) return;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Reads an SSE byte stream frame by frame. Returning early from the loop cancels the stream. */
export async function* parseSseStream(
  body: ReadableStream<Uint8Array>,
  options: FrameParserOptions = {},
): AsyncGenerator<SseFrame, void, undefined> {
  for await (const batch of readSseBatches(body, options)) yield* batch;
}
