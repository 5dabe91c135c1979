/**
 * Server-Sent Events frame encoders (docs/architecture.md, "Dialects"). Every function returns one
 * whole block that ends with a blank line, using LF only: some SSE clients (the AG-UI HttpAgent)
 * split frames on `\n\n` and break on CRLF.
 * @module
 */

/** One event to encode. */
export interface SseEventInit {
  /** The `id:` field (the run's sequence number); omitted when undefined. */
  id?: string | number;
  /** The `event:` field; omitted when undefined (clients then see `message`). */
  event?: string;
  /** The payload; each line becomes its own `data:` line. */
  data: string;
}

/** Response headers for an SSE stream. No `connection: keep-alive`: HTTP/2 forbids it. */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
});

const NEWLINE_RE = /\r\n|\r|\n/;
const ANY_BREAK_RE = /[\r\n]/;

/** Text encoder shared by every SSE writer (it holds no state). */
export const textEncoder: TextEncoder = new TextEncoder();

function dataLines(data: string): string {
  // Fast path: JSON.stringify never emits raw line breaks, so this is the common case.
  if (!ANY_BREAK_RE.test(data)) return data === "" ? "data:\n" : `data: ${data}\n`;
  let out = "";
  for (const line of data.split(NEWLINE_RE)) out += line === "" ? "data:\n" : `data: ${line}\n`;
  return out;
}

/**
 * Encodes one event: `id: <id>\nevent: <type>\ndata: <line>\n…\n\n`. Multi-line data (split on
 * CRLF, CR or LF) becomes several `data:` lines, which a client joins back with LF.
 * @throws {TypeError} when `id` or `event` contains a line break (it would forge fields) or
 *   `id` contains NUL (clients ignore such ids, so resume would silently break).
 */
export function encodeEvent(init: SseEventInit): string {
  let out = "";
  if (init.id !== undefined) {
    const id = String(init.id);
    if (ANY_BREAK_RE.test(id) || id.includes("\0")) {
      throw new TypeError("SSE id must not contain line breaks or NUL");
    }
    out += `id: ${id}\n`;
  }
  if (init.event !== undefined) {
    if (ANY_BREAK_RE.test(init.event)) {
      throw new TypeError("SSE event type must not contain line breaks");
    }
    out += `event: ${init.event}\n`;
  }
  return out + dataLines(init.data) + "\n";
}

/**
 * Encodes a comment block (`: text\n\n`); each line of a multi-line text gets its own `:` prefix
 * so no line of it can be read as a field. Clients ignore comments: they keep proxies and
 * liveness checks happy.
 */
export function encodeComment(text: string): string {
  if (!ANY_BREAK_RE.test(text)) return text === "" ? ":\n\n" : `: ${text}\n\n`;
  let out = "";
  for (const line of text.split(NEWLINE_RE)) out += line === "" ? ":\n" : `: ${line}\n`;
  return out + "\n";
}

/**
 * Encodes a `retry: <ms>\n\n` block: the client's reconnection delay.
 * @throws {RangeError} unless `ms` is a non-negative safe integer (clients ignore anything else).
 */
export function encodeRetry(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`SSE retry must be a non-negative integer, got ${ms}`);
  }
  return `retry: ${ms}\n\n`;
}

/** UTF-8 bytes of a frame (or of several concatenated frames). */
export function frameBytes(frame: string): Uint8Array {
  return textEncoder.encode(frame);
}
