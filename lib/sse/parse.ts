/**
 * SSE parsing over bytes, written from the HTML Living Standard's "event stream interpretation"
 * rules: UTF-8 decoded incrementally (a multi-byte character may be split between reads), one
 * leading BOM dropped, LF / CR / CRLF line ends, comments, `field:value` with one optional
 * space, multi-line data. Whole frames are reported synchronously inside `feed()`, so one
 * upstream read yields its N frames in one go and the relay can batch per read.
 *
 * Reported like `eventsource-parser` (the tests' reference): `id` per block (not carried over),
 * `lastEventId` updated by any block with an id, unknown fields and invalid `retry:` values
 * reported through `onError`. A line still unfinished at the end of a read that cannot be a field
 * we act on (`data`, `event`, `id`, `retry`, or a comment when there is an `onComment`) is not
 * kept: it is skipped up to its line end, unreported, and does not count against the limit.
 *
 * One object per stream, no closures: the relay keeps one parser per idle stream, and this is
 * its whole state. The UTF-8 decoder is shared; a stream only keeps the 1–3 bytes of a character
 * split between reads.
 * @module
 */

import type { FrameParser, FrameParserOptions, SseFrame } from "./parse_types.ts";
import { DEFAULT_MAX_FRAME_CHARS, ParseError } from "./parse_types.ts";
import { splitCharStart } from "./utf8_split.ts";

export { DEFAULT_MAX_FRAME_CHARS, ParseError } from "./parse_types.ts";
export type { FrameParser, FrameParserOptions, ParseErrorType, SseFrame } from "./parse_types.ts";

const LF = 0x0a;
const SPACE = 0x20;
const COLON = 0x3a;
const BOM = 0xfeff;

/** Not decoding statefully: each stream keeps its split character's bytes itself. */
const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** Whether an unfinished line can still become a field the parser acts on (first 6 chars). */
function mayMatter(line: string, comments: boolean): boolean {
  const c = line.charCodeAt(0);
  if (c === COLON) return comments;
  const name = c === 0x64
    ? "data"
    : c === 0x65
    ? "event"
    : c === 0x69
    ? "id"
    : c === 0x72
    ? "retry"
    : "";
  if (name === "") return false;
  const k = line.length < name.length ? line.length : name.length;
  for (let i = 1; i < k; i++) if (line.charCodeAt(i) !== name.charCodeAt(i)) return false;
  return line.length <= name.length || line.charCodeAt(name.length) === COLON;
}

function isData(s: string, i: number): boolean {
  return s.charCodeAt(i + 1) === 0x61 && s.charCodeAt(i + 2) === 0x74 &&
    s.charCodeAt(i + 3) === 0x61 && s.charCodeAt(i + 4) === COLON;
}

function isEvent(s: string, i: number): boolean {
  return s.charCodeAt(i + 1) === 0x76 && s.charCodeAt(i + 2) === 0x65 &&
    s.charCodeAt(i + 3) === 0x6e && s.charCodeAt(i + 4) === 0x74 && s.charCodeAt(i + 5) === COLON;
}

function isId(s: string, i: number): boolean {
  return s.charCodeAt(i + 1) === 0x64 && s.charCodeAt(i + 2) === COLON;
}

function allDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** What the next text must start with being dropped, after a line end at a read's end. */
const NONE = 0;
/** The read ended on a CR: a LF starting the next one is the second half of a CRLF. */
const SWALLOW_LF = 1;
/** An unfinished line that cannot matter: dropped up to its line end. */
const SKIP_LINE = 2;

class BytesFrameParser implements FrameParser {
  lastEventId: string | undefined = undefined;
  failed = false;
  #onFrame: (frame: SseFrame) => void;
  #onComment: ((text: string) => void) | undefined;
  #onRetry: ((ms: number) => void) | undefined;
  #onError: ((error: ParseError) => void) | undefined;
  #max: number;
  /** The bytes of a character split by the end of the last read. */
  #split: Uint8Array | null = null;
  #atStart = true;
  #skip = NONE;
  /** The unfinished line (no line end yet). */
  #line = "";
  #id: string | undefined = undefined;
  #event: string | undefined = undefined;
  #data = "";
  #hasData = false;

  constructor(onFrame: (frame: SseFrame) => void, options: FrameParserOptions) {
    this.#onFrame = onFrame;
    this.#onComment = options.onComment;
    this.#onRetry = options.onRetry;
    this.#onError = options.onError;
    this.#max = options.maxBufferSize ?? DEFAULT_MAX_FRAME_CHARS;
  }

  feed(chunk: Uint8Array | string): void {
    if (this.failed) return;
    let text = typeof chunk === "string" ? chunk : this.#decode(chunk);
    if (text === "") return;
    if (this.#atStart) {
      this.#atStart = false;
      if (text.charCodeAt(0) === BOM) {
        if (text.length === 1) return;
        text = text.slice(1);
      }
    }
    this.#text(text);
  }

  end(): void {
    if (this.#split !== null) {
      // An unfinished character at the end of the input is one U+FFFD.
      const rest = UTF8.decode(this.#split);
      this.#split = null;
      if (!this.failed) this.#text(rest);
    }
    this.#reset();
    this.#skip = NONE;
    this.#atStart = true;
    this.failed = false;
  }

  #decode(bytes: Uint8Array): string {
    let b = bytes;
    const split = this.#split;
    if (split !== null) {
      b = new Uint8Array(split.length + bytes.length);
      b.set(split);
      b.set(bytes, split.length);
      this.#split = null;
    }
    const cut = splitCharStart(b);
    if (cut < b.length) {
      this.#split = b.slice(cut); // a copy: the caller may reuse its read buffer
      if (cut === 0) return "";
      b = b.subarray(0, cut);
    }
    return UTF8.decode(b);
  }

  #reset(): void {
    this.#line = "";
    this.#id = undefined;
    this.#event = undefined;
    this.#data = "";
    this.#hasData = false;
  }

  /** Parses decoded text (non-empty). */
  #text(text: string): void {
    let pos = 0;
    const n = text.length;
    if (this.#skip !== NONE) {
      if (this.#skip === SWALLOW_LF) {
        if (text.charCodeAt(0) === LF) pos = 1;
      } else {
        const lf = text.indexOf("\n");
        const cr = text.indexOf("\r");
        const end = cr === -1 ? lf : lf === -1 || cr < lf ? cr : lf;
        if (end === -1) return;
        if (end === cr) {
          if (end === n - 1) {
            this.#skip = SWALLOW_LF;
            return;
          }
          pos = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
        } else pos = end + 1;
      }
      this.#skip = NONE;
      if (pos === n) return;
    }
    if (this.#line !== "") {
      const line = this.#line;
      if (text.indexOf("\n", pos) === -1 && text.indexOf("\r", pos) === -1) {
        // Still no line end: keep the pieces (a rope, flattened once the line ends).
        if (line.length < 6 && !mayMatter(line + text.slice(pos, pos + 6), !!this.#onComment)) {
          this.#line = "";
          this.#skip = SKIP_LINE;
          return;
        }
        this.#line = line + (pos === 0 ? text : text.slice(pos));
        if (this.#line.length + this.#data.length > this.#max) this.#overflow();
        return;
      }
      text = line + (pos === 0 ? text : text.slice(pos));
      pos = 0;
      this.#line = "";
    }
    pos = text.indexOf("\r", pos) === -1 ? this.#lfLines(text, pos) : this.#anyLines(text, pos);
    if (pos < 0) return;
    if (pos < text.length) {
      const rest = pos === 0 ? text : text.slice(pos);
      if (mayMatter(rest, !!this.#onComment)) this.#line = rest;
      else this.#skip = SKIP_LINE;
    }
    if (this.#line.length + this.#data.length > this.#max) this.#overflow();
  }

  /**
   * The lines of text that has no CR (the usual case). Returns where the unfinished line
   * starts, or -1 when the limit was exceeded.
   */
  #lfLines(text: string, pos: number): number {
    let lf = text.indexOf("\n", pos);
    while (lf !== -1) {
      if (lf === pos) {
        this.#dispatch();
      } else {
        const c = text.charCodeAt(pos);
        if (c === 0x64 && isData(text, pos)) {
          const value = text.slice(text.charCodeAt(pos + 5) === SPACE ? pos + 6 : pos + 5, lf);
          if (!this.#hasData && text.charCodeAt(lf + 1) === LF) {
            // `data: …` and a blank line: the event is whole, nothing is buffered.
            this.#hasData = true;
            this.#data = value;
            this.#dispatch();
            pos = lf + 2;
            lf = text.indexOf("\n", pos);
            continue;
          }
          this.#addData(value);
          if (this.#data.length > this.#max) return this.#overflow();
        } else if (c === 0x65 && isEvent(text, pos)) {
          this.#event = text.slice(text.charCodeAt(pos + 6) === SPACE ? pos + 7 : pos + 6, lf) ||
            undefined;
        } else if (c === 0x69 && isId(text, pos)) {
          this.#setId(text.slice(text.charCodeAt(pos + 3) === SPACE ? pos + 4 : pos + 3, lf));
        } else {
          this.#field(text, pos, lf);
          if (this.#data.length > this.#max) return this.#overflow();
        }
      }
      pos = lf + 1;
      lf = text.indexOf("\n", pos);
    }
    return pos;
  }

  /** The lines of text with CR, LF or CRLF line ends; returns like `#lfLines`. */
  #anyLines(text: string, pos: number): number {
    const n = text.length;
    let cr = text.indexOf("\r", pos);
    let lf = text.indexOf("\n", pos);
    while (true) {
      if (cr !== -1 && cr < pos) cr = text.indexOf("\r", pos);
      if (lf !== -1 && lf < pos) lf = text.indexOf("\n", pos);
      const end = cr === -1 ? lf : lf === -1 || cr < lf ? cr : lf;
      if (end === -1) return pos;
      if (end === pos) this.#dispatch();
      else {
        this.#field(text, pos, end);
        if (this.#data.length > this.#max) return this.#overflow();
      }
      if (end === cr) {
        if (end === n - 1) {
          // A CR ending the read may be half of a CRLF: the next read's LF is dropped.
          this.#skip = SWALLOW_LF;
          return n;
        }
        pos = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
      } else pos = end + 1;
      if (pos === n) return n;
    }
  }

  /** One non-empty line `text[start, end)`; `text[end]` is its line end. */
  #field(text: string, start: number, end: number): void {
    const c = text.charCodeAt(start);
    if (c === 0x64 && isData(text, start)) {
      this.#addData(text.slice(text.charCodeAt(start + 5) === SPACE ? start + 6 : start + 5, end));
      return;
    }
    if (c === 0x65 && isEvent(text, start)) {
      this.#event = text.slice(text.charCodeAt(start + 6) === SPACE ? start + 7 : start + 6, end) ||
        undefined;
      return;
    }
    if (c === 0x69 && isId(text, start)) {
      this.#setId(text.slice(text.charCodeAt(start + 3) === SPACE ? start + 4 : start + 3, end));
      return;
    }
    if (c === COLON) {
      this.#onComment?.(
        text.slice(text.charCodeAt(start + 1) === SPACE ? start + 2 : start + 1, end),
      );
      return;
    }
    // The rare shapes: a field without colon, `retry`, unknown fields.
    const line = text.slice(start, end);
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1
      ? ""
      : line.slice(line.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1);
    if (field === "data") this.#addData(value);
    else if (field === "event") this.#event = value || undefined;
    else if (field === "id") this.#setId(value);
    else if (field === "retry") {
      if (allDigits(value)) this.#onRetry?.(parseInt(value, 10));
      else {
        this.#onError?.(
          new ParseError(`retry is not a number of milliseconds: ${JSON.stringify(value)}`, {
            type: "invalid-retry",
            value,
            line,
          }),
        );
      }
    } else if (this.#onError) {
      const name = field.length > 20 ? field.slice(0, 20) + "…" : field;
      this.#onError(
        new ParseError(`unknown SSE field ${JSON.stringify(name)}`, {
          type: "unknown-field",
          field,
          value,
          line,
        }),
      );
    }
  }

  #addData(value: string): void {
    if (this.#hasData) this.#data = this.#data + "\n" + value;
    else {
      this.#data = value;
      this.#hasData = true;
    }
  }

  #setId(value: string): void {
    // An id containing NUL is ignored (the standard's rule).
    if (value.indexOf("\0") === -1) this.#id = value;
  }

  /** A blank line: the block ends; it becomes a frame if it had data. */
  #dispatch(): void {
    const id = this.#id;
    if (id !== undefined) this.lastEventId = id;
    if (!this.#hasData) {
      this.#id = this.#event = undefined;
      return;
    }
    const event = this.#event ?? "message";
    const data = this.#data;
    this.#id = this.#event = undefined;
    this.#data = "";
    this.#hasData = false;
    this.#onFrame(id === undefined ? { event, data } : { id, event, data });
  }

  #overflow(): -1 {
    this.failed = true;
    this.#reset();
    this.#skip = NONE;
    this.#onError?.(
      new ParseError(`an SSE event is over ${this.#max} characters`, {
        type: "max-buffer-size-exceeded",
      }),
    );
    return -1;
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
