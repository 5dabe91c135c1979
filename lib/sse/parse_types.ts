/**
 * The SSE parser's contract: its frames, options, errors and limits (`parse.ts` implements it,
 * and re-exports all of it).
 * @module
 */
/** What went wrong, in `ParseError.type`. */
export type ParseErrorType = "invalid-retry" | "unknown-field" | "max-buffer-size-exceeded";

/** A parse problem reported through `FrameParserOptions.onError`. */
export class ParseError extends Error {
  /** What went wrong. */
  type: ParseErrorType;
  /** The field name of an unknown field. */
  field: string | undefined;
  /** The field value of an unknown field or an invalid retry. */
  value: string | undefined;
  /** The whole line (without its line end) of an unknown field or an invalid retry. */
  line: string | undefined;

  /** Creates an error of the given type, with the line's parts when there is a line. */
  constructor(
    message: string,
    options: { type: ParseErrorType; field?: string; value?: string; line?: string },
  ) {
    super(message);
    this.name = "ParseError";
    this.type = options.type;
    this.field = options.field;
    this.value = options.value;
    this.line = options.line;
  }
}

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
