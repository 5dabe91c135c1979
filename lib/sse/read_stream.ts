/**
 * Reading an SSE byte stream with the parser of `parse.ts`: per read (the frames one read
 * completed) or frame by frame.
 * @module
 */
import { createFrameParser } from "./parse.ts";
import type { FrameParserOptions, SseFrame } from "./parse_types.ts";

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
