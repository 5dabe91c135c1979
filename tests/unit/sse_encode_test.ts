import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  encodeComment,
  encodeEvent,
  encodeRetry,
  frameBytes,
  SSE_HEADERS,
} from "../../lib/sse/encode.ts";
import { createFrameParser, type SseFrame } from "../../lib/sse/parse.ts";

function parseAll(text: string): { frames: SseFrame[]; comments: string[]; retries: number[] } {
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const p = createFrameParser((f) => frames.push(f), {
    onComment: (c) => comments.push(c),
    onRetry: (r) => retries.push(r),
  });
  p.feed(text);
  p.end();
  return { frames, comments, retries };
}

describe("encodeEvent", () => {
  it("writes id, event and data fields ending with a blank line", () => {
    assert.equal(
      encodeEvent({ id: 7, event: "step_started", data: '{"a":1}' }),
      'id: 7\nevent: step_started\ndata: {"a":1}\n\n',
    );
  });

  it("omits absent id and event", () => {
    assert.equal(encodeEvent({ data: "x" }), "data: x\n\n");
    assert.equal(encodeEvent({ data: "" }), "data:\n\n");
  });

  it("splits multi-line data on CRLF, CR and LF into LF-only data lines", () => {
    const text = encodeEvent({ event: "m", data: "one\r\ntwo\rthree\nfour\n" });
    assert.equal(text, "event: m\ndata: one\ndata: two\ndata: three\ndata: four\ndata:\n\n");
    assert.ok(!text.includes("\r"));
    assert.deepEqual(parseAll(text).frames, [{ event: "m", data: "one\ntwo\nthree\nfour\n" }]);
  });

  it("round-trips through the parser, including a data line that looks like a field", () => {
    const data = 'line\nid: 99\nevent: forged\n\n{"x":1}';
    const { frames } = parseAll(encodeEvent({ id: "5", event: "e", data }));
    assert.deepEqual(frames, [{ id: "5", event: "e", data }]);
  });

  it("refuses ids and types that contain line breaks or NUL", () => {
    assert.throws(() => encodeEvent({ id: "1\n2", data: "x" }), TypeError);
    assert.throws(() => encodeEvent({ id: "1\r", data: "x" }), TypeError);
    assert.throws(() => encodeEvent({ id: "a\0", data: "x" }), TypeError);
    assert.throws(() => encodeEvent({ event: "a\nb", data: "x" }), TypeError);
  });
});

describe("encodeComment / encodeRetry / headers", () => {
  it("encodes a comment, one colon prefix per line", () => {
    assert.equal(encodeComment("heartbeat"), ": heartbeat\n\n");
    assert.equal(encodeComment(""), ":\n\n");
    const multi = encodeComment("a\r\nb\nevent: x\rdata: y");
    assert.equal(multi, ": a\n: b\n: event: x\n: data: y\n\n");
    const parsed = parseAll(multi);
    assert.deepEqual(parsed.frames, []);
    assert.deepEqual(parsed.comments, ["a", "b", "event: x", "data: y"]);
  });

  it("encodes retry and refuses bad values", () => {
    assert.equal(encodeRetry(3000), "retry: 3000\n\n");
    assert.deepEqual(parseAll(encodeRetry(1500)).retries, [1500]);
    assert.throws(() => encodeRetry(-1), RangeError);
    assert.throws(() => encodeRetry(1.5), RangeError);
    assert.throws(() => encodeRetry(Number.NaN), RangeError);
  });

  it("has the stream headers and no connection header", () => {
    assert.equal(SSE_HEADERS["content-type"], "text/event-stream; charset=utf-8");
    assert.equal(SSE_HEADERS["cache-control"], "no-cache, no-transform");
    assert.equal(SSE_HEADERS["x-accel-buffering"], "no");
    assert.ok(!Object.keys(SSE_HEADERS).some((k) => k.toLowerCase() === "connection"));
  });

  it("frameBytes is UTF-8", () => {
    assert.deepEqual([...frameBytes("é\n\n")], [0xc3, 0xa9, 10, 10]);
  });
});
