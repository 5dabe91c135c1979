import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createFrameParser, type ParseError, type SseFrame } from "../../lib/sse/parse.ts";
import { parseSseStream, readSseBatches } from "../../lib/sse/read_stream.ts";

const enc = new TextEncoder();

/** A sample stream with every feature: ids, types, multi-line data, comments, UTF-8, retry. */
const SAMPLE = "retry: 2500\n" +
  ": hello\n\n" +
  'id: 1\nevent: workflow_initialized\ndata: {"graph":"hôtel ✓"}\n\n' +
  "data: plain message\n\n" +
  "id: 2\nevent: multi\ndata: first\ndata: second 😀\n\n" +
  ": heartbeat\n\n" +
  "id: 3\nevent: emoji\ndata: 日本語 😀😀\n\n";

const EXPECTED: SseFrame[] = [
  { id: "1", event: "workflow_initialized", data: '{"graph":"hôtel ✓"}' },
  { event: "message", data: "plain message" },
  { id: "2", event: "multi", data: "first\nsecond 😀" },
  { id: "3", event: "emoji", data: "日本語 😀😀" },
];

function collect(chunks: Uint8Array[]) {
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const p = createFrameParser((f) => frames.push(f), {
    onComment: (c) => comments.push(c),
    onRetry: (r) => retries.push(r),
  });
  for (const c of chunks) p.feed(c);
  p.end();
  return { frames, comments, retries, lastEventId: p.lastEventId };
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]);
      else c.close();
    },
  });
}

describe("createFrameParser", () => {
  it("parses the sample in one chunk", () => {
    const r = collect([enc.encode(SAMPLE)]);
    assert.deepEqual(r.frames, EXPECTED);
    assert.deepEqual(r.comments, ["hello", "heartbeat"]);
    assert.deepEqual(r.retries, [2500]);
    assert.equal(r.lastEventId, "3");
  });

  it("gives the same frames when split at every byte offset (also inside UTF-8 chars)", () => {
    const bytes = enc.encode(SAMPLE);
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = collect([bytes.subarray(0, cut), bytes.subarray(cut)]);
      assert.deepEqual(r.frames, EXPECTED, `cut at ${cut}`);
      assert.deepEqual(r.comments, ["hello", "heartbeat"], `cut at ${cut}`);
    }
  });

  it("gives the same frames fed one byte at a time", () => {
    const bytes = enc.encode(SAMPLE);
    const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    assert.deepEqual(collect(chunks).frames, EXPECTED);
  });

  it("handles CRLF and CR line ends, split at every offset", () => {
    for (const eol of ["\r\n", "\r"]) {
      const bytes = enc.encode(SAMPLE.replaceAll("\n", eol));
      assert.deepEqual(collect([bytes]).frames, EXPECTED, JSON.stringify(eol));
      for (let cut = 1; cut < bytes.length; cut++) {
        const r = collect([bytes.subarray(0, cut), bytes.subarray(cut)]);
        assert.deepEqual(r.frames, EXPECTED, `${JSON.stringify(eol)} cut at ${cut}`);
      }
    }
  });

  it("drops a leading BOM, whole or split across chunks, bytes or text", () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
    const body = enc.encode(SAMPLE);
    const all = new Uint8Array([...bom, ...body]);
    for (let cut = 1; cut <= 4; cut++) {
      const r = collect([all.subarray(0, cut), all.subarray(cut)]);
      assert.deepEqual(r.frames, EXPECTED, `cut at ${cut}`);
    }
    const textFrames: SseFrame[] = [];
    const p = createFrameParser((f) => textFrames.push(f));
    p.feed("\uFEFF");
    p.feed("data: x\n\n");
    assert.deepEqual(textFrames, [{ event: "message", data: "x" }]);
  });

  it("keeps a BOM that is not at the start (it is data)", () => {
    const frames: SseFrame[] = [];
    const p = createFrameParser((f) => frames.push(f));
    p.feed(enc.encode("data: a\n\n"));
    p.feed(enc.encode("data: \uFEFFb\n\n"));
    assert.deepEqual(frames.map((f) => f.data), ["a", "\uFEFFb"]);
  });

  it("yields N frames synchronously from one feed", () => {
    const frames: SseFrame[] = [];
    const p = createFrameParser((f) => frames.push(f));
    p.feed(enc.encode("data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4"));
    assert.equal(frames.length, 3);
    p.feed(enc.encode("\n\n"));
    assert.equal(frames.length, 4);
  });

  it("discards an unfinished event at the end and can start over", () => {
    const frames: SseFrame[] = [];
    const p = createFrameParser((f) => frames.push(f));
    p.feed(enc.encode("data: whole\n\nevent: x\ndata: half"));
    p.end();
    assert.deepEqual(frames, [{ event: "message", data: "whole" }]);
    p.feed(enc.encode("data: next\n\n"));
    assert.deepEqual(frames.at(-1), { event: "message", data: "next" });
  });

  it("tracks the last id even from a block with only an id", () => {
    const p = createFrameParser(() => {});
    p.feed(enc.encode("id: 41\ndata: a\n\nid: 42\n\n"));
    assert.equal(p.lastEventId, "42");
  });

  it("reports unknown fields and stops at the buffer limit", () => {
    const errors: ParseError[] = [];
    const frames: SseFrame[] = [];
    const p = createFrameParser((f) => frames.push(f), {
      onError: (e) => errors.push(e),
      maxBufferSize: 64,
    });
    p.feed(enc.encode("bogus: 1\ndata: ok\n\n"));
    assert.equal(errors[0].type, "unknown-field");
    assert.equal(frames.length, 1);
    p.feed(enc.encode("data: " + "x".repeat(100)));
    assert.equal(errors.at(-1)!.type, "max-buffer-size-exceeded");
    assert.equal(p.failed, true);
    p.feed(enc.encode("\n\ndata: ignored\n\n"));
    assert.equal(frames.length, 1);
    p.end();
    assert.equal(p.failed, false);
  });
});

describe("parseSseStream / readSseBatches", () => {
  it("iterates frames of a byte stream split anywhere", async () => {
    const bytes = enc.encode(SAMPLE);
    const chunks = [bytes.subarray(0, 7), bytes.subarray(7, 70), bytes.subarray(70)];
    const out: SseFrame[] = [];
    for await (const f of parseSseStream(streamOf(chunks))) out.push(f);
    assert.deepEqual(out, EXPECTED);
  });

  it("yields one batch per read that completed frames", async () => {
    const chunks = [
      enc.encode("data: 1\n\ndata: 2\n\ndata: 3"),
      enc.encode("\n"),
      enc.encode("\ndata: 4\n\n"),
    ];
    const batches: string[][] = [];
    for await (const b of readSseBatches(streamOf(chunks))) batches.push(b.map((f) => f.data));
    assert.deepEqual(batches, [["1", "2"], ["3", "4"]]);
  });

  it("cancels the source when the loop ends early", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(enc.encode("data: tick\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const _ of parseSseStream(body)) break;
    assert.equal(cancelled, true);
  });
});
