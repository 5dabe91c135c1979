/**
 * A small SSE parser for the browser bundle, written from the HTML Living Standard's
 * "event stream interpretation" rules. The server's parser (`lib/sse/parse.ts`) also decodes
 * bytes, bounds its buffer and reports errors; this one exists because the console's whole
 * JavaScript budget is 15 KB gzip and a full parser costs ~1.8 KB of it. It handles LF, CR and CRLF line ends (a CR at the end of a chunk waits for the
 * next one), comments, `field:value` with one optional space, multi-line data and split chunks.
 * Like `eventsource-parser`, `id` is reported per event and a block without `data` is dropped.
 * The caller decodes bytes with `TextDecoderStream`, which already strips a leading BOM.
 * @module
 */

/** One dispatched message. */
export interface SseMessage {
  /** The block's `id:` field, when it had one (not carried over between blocks). */
  id?: string;
  /** The block's `event:` field, when it had a non-empty one. */
  event?: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
}

/** A push parser: feed it decoded text in chunks of any size. */
export interface SseParser {
  /** Parses a chunk; complete blocks are dispatched synchronously. */
  feed(chunk: string): void;
}

const EOL = /\r\n|\r|\n/g;

/** Creates a parser that calls `onEvent` for every complete block with data. */
export function createSseParser(onEvent: (message: SseMessage) => void): SseParser {
  let buffer = "";
  let data: string | undefined;
  let event = "";
  let id: string | undefined;

  function line(text: string): void {
    if (text === "") {
      if (data !== undefined) onEvent({ id, event: event || undefined, data });
      data = id = undefined;
      event = "";
      return;
    }
    if (text[0] === ":") return; // a comment (heartbeats); the caller counts bytes, not comments
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
    else if (field === "event") event = value;
    else if (field === "id" && !value.includes("\0")) id = value;
    // `retry` and unknown fields are ignored: the client has its own backoff.
  }

  return {
    feed(chunk) {
      buffer += chunk;
      let start = 0;
      EOL.lastIndex = 0;
      for (let m = EOL.exec(buffer); m; m = EOL.exec(buffer)) {
        // A CR as the very last character may be the first half of a CRLF.
        if (m[0] === "\r" && m.index === buffer.length - 1) break;
        line(buffer.slice(start, m.index));
        start = m.index + m[0].length;
      }
      buffer = buffer.slice(start);
    },
  };
}
