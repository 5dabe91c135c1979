/**
 * The browser's small SSE parser agrees with `eventsource-parser` (the server's) on every way
 * of splitting the same stream, including CRLF, lone CR, comments and multi-line data.
 * @module
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createParser } from "eventsource-parser";
import { createSseParser, type SseMessage } from "../../lib/client/sse_lite.ts";

const STREAM = [
  "retry: 3000\n",
  ": hello\n\n",
  'id: 1\nevent: workflow_initialized\ndata: {"graph":"hotel_o2c"}\n\n',
  'id:2\r\nevent:step_started\r\ndata:{"step":"a"}\r\n\r\n',
  "id: 3\revent: artifact\rdata: line one\rdata: line two\r\r",
  ": heartbeat\n\n",
  "data\n\n",
  "id: 4\n\n",
  "event: bare\ndata:  two spaces\nunknown: field\n\n",
  "id: 5\ndata: no event name\n\n",
].join("");

function ours(chunks: string[]): SseMessage[] {
  const out: SseMessage[] = [];
  const p = createSseParser((m) => out.push(m));
  for (const c of chunks) p.feed(c);
  return out;
}

function reference(chunks: string[]): SseMessage[] {
  const out: SseMessage[] = [];
  const p = createParser({
    onEvent: (m) => out.push({ id: m.id, event: m.event, data: m.data }),
  });
  for (const c of chunks) p.feed(c);
  return out;
}

/** Deterministic pseudo-random cut points (no Math.random: failures must reproduce). */
function splits(text: string, seed: number): string[] {
  const out: string[] = [];
  let x = seed;
  let at = 0;
  while (at < text.length) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const len = 1 + (x % 9);
    out.push(text.slice(at, at + len));
    at += len;
  }
  return out;
}

describe("createSseParser", () => {
  it("parses whole blocks like the spec says", () => {
    const got = ours([STREAM]);
    assert.deepEqual(got.map((m) => [m.id, m.event, m.data]), [
      ["1", "workflow_initialized", '{"graph":"hotel_o2c"}'],
      ["2", "step_started", '{"step":"a"}'],
      ["3", "artifact", "line one\nline two"],
      [undefined, undefined, ""],
      [undefined, "bare", " two spaces"],
      ["5", undefined, "no event name"],
    ]);
  });

  it("agrees with eventsource-parser however the stream is cut", () => {
    const expected = reference([STREAM]);
    assert.deepEqual(ours([STREAM]), expected);
    for (let seed = 1; seed <= 200; seed++) {
      const chunks = splits(STREAM, seed);
      assert.deepEqual(ours(chunks), expected, `seed ${seed}`);
    }
    // One character at a time, the hardest case for CRLF handling.
    assert.deepEqual(ours([...STREAM]), expected);
  });

  it("waits for the LF after a CR that ends a chunk", () => {
    const got = ours(["data: a\r", "\ndata: b\r\n\r", "\n"]);
    assert.deepEqual(got, [{ id: undefined, event: undefined, data: "a\nb" }]);
  });
});
