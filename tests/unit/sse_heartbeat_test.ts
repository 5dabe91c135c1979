import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  SlowSubscriberError,
  SseResponseStream,
  type SseStreamCounters,
  type SseStreamEnd,
} from "../../lib/sse/heartbeat.ts";
import { createFrameParser, type SseFrame } from "../../lib/sse/parse.ts";
import { ManualScheduler } from "../fixtures/manual_scheduler.ts";

const dec = new TextDecoder();

/** Reads everything queued right now (without waiting for more). */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, s: SseResponseStream) {
  let out = "";
  while (s.queuedBytes > 0) {
    const r = await reader.read();
    if (r.done) break;
    out += dec.decode(r.value);
  }
  return out;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  let out = "";
  for await (const chunk of stream) out += dec.decode(chunk);
  return out;
}

const HB = ": heartbeat\n\n";

describe("SseResponseStream", () => {
  it("sends retry in the first block, never as a block of its own", async () => {
    const sched = new ManualScheduler();
    // No opening comment: the first event carries it (one dispatch, with data).
    const a = new SseResponseStream({ scheduler: sched, retryMs: 3000 });
    a.writeEvent({ id: 1, event: "e", data: "{}" });
    a.writeEvent({ id: 2, event: "e", data: "{}" });
    a.close();
    assert.equal(
      await readAll(a.readable),
      "retry: 3000\nid: 1\nevent: e\ndata: {}\n\nid: 2\nevent: e\ndata: {}\n\n",
    );
    // Silence first: the heartbeat carries it.
    const h = new SseResponseStream({ scheduler: sched, retryMs: 3000, intervalMs: 1000 });
    sched.advance(1000);
    h.close();
    assert.equal(await readAll(h.readable), "retry: 3000\n" + HB);
    const b = new SseResponseStream({ scheduler: sched });
    b.close();
    assert.equal(await readAll(b.readable), "");
    // An opening comment takes it into its own block.
    const c = new SseResponseStream({ scheduler: sched, openComment: "hi", retryMs: 5 });
    c.writeEvent({ data: "x" });
    c.close();
    assert.equal(await readAll(c.readable), ": hi\nretry: 5\n\ndata: x\n\n");
    assert.equal(sched.timers.size, 0, "closing clears the timer");
  });

  it("sends a heartbeat only after intervalMs without writes", async () => {
    const sched = new ManualScheduler();
    const counters: SseStreamCounters = { heartbeats: 0, overflows: 0 };
    const s = new SseResponseStream({ scheduler: sched, intervalMs: 1000, counters });
    const reader = s.readable.getReader();
    assert.equal(await drain(reader, s), "");
    sched.advance(999);
    assert.equal(await drain(reader, s), "");
    sched.advance(1);
    assert.equal(await drain(reader, s), HB);
    sched.advance(1000);
    assert.equal(await drain(reader, s), HB);
    assert.equal(s.heartbeats, 2);
    assert.equal(counters.heartbeats, 2);
    assert.equal(sched.timers.size, 1, "one timer per stream");
    s.close();
    reader.releaseLock();
    await s.readable.cancel();
  });

  it("resets the idle interval on every write, without re-arming a timer per write", async () => {
    const sched = new ManualScheduler();
    const s = new SseResponseStream({ scheduler: sched, intervalMs: 1000, openComment: false });
    const reader = s.readable.getReader();
    let timersSet = 0;
    const set = sched.setTimer.bind(sched);
    sched.setTimer = (cb, ms, arg) => (timersSet++, set(cb, ms, arg));
    for (let t = 0; t < 10; t++) {
      sched.advance(600);
      assert.ok(s.writeEvent({ id: t, event: "e", data: String(t) }));
    }
    const text = await drain(reader, s);
    assert.ok(!text.includes("heartbeat"), "no heartbeat while events flow");
    assert.ok(timersSet <= 10, `timer re-armed only when it fires (${timersSet})`);
    sched.advance(999);
    assert.equal(await drain(reader, s), "");
    sched.advance(1);
    assert.equal(await drain(reader, s), HB);
    s.close();
    reader.releaseLock();
    await s.readable.cancel();
  });

  it("never puts a heartbeat inside a frame and refuses partial writes", async () => {
    const sched = new ManualScheduler();
    const s = new SseResponseStream({ scheduler: sched, intervalMs: 10 });
    assert.throws(() => s.write("event: x\ndata: half"), TypeError);
    assert.throws(() => s.write("data: x\n"), TypeError);
    assert.throws(() => s.write(new TextEncoder().encode("data: x\n")), TypeError);
    const frames: SseFrame[] = [];
    const comments: string[] = [];
    const parser = createFrameParser((f) => frames.push(f), { onComment: (c) => comments.push(c) });
    const reader = s.readable.getReader();
    for (let i = 0; i < 50; i++) {
      // Two frames per write (a coalesced batch), with heartbeats due in between.
      s.write(`id: ${2 * i}\nevent: a\ndata: ${i}\n\nid: ${2 * i + 1}\nevent: b\ndata: ${i}\n\n`);
      sched.advance(i % 3 === 0 ? 25 : 5);
      parser.feed(new TextEncoder().encode(await drain(reader, s)));
    }
    assert.equal(frames.length, 100);
    assert.deepEqual(frames.map((f) => f.id), Array.from({ length: 100 }, (_, i) => String(i)));
    assert.ok(comments.filter((c) => c === "heartbeat").length > 0);
    s.close();
    reader.releaseLock();
    await s.readable.cancel();
  });

  it("calls onEnd('cancel') once when the client cancels, and stops its timer", async () => {
    const sched = new ManualScheduler();
    const ends: [SseStreamEnd, unknown][] = [];
    const s = new SseResponseStream({
      scheduler: sched,
      onEnd: (why, reason) => ends.push([why, reason]),
    });
    await s.readable.cancel("client left");
    assert.deepEqual(ends, [["cancel", "client left"]]);
    assert.equal(s.closed, true);
    assert.equal(sched.timers.size, 0);
    assert.equal(s.writeEvent({ data: "x" }), false);
    sched.advance(60_000);
    assert.equal(s.heartbeats, 0);
  });

  it("close(finalComment) ends after what is queued, without onEnd", async () => {
    const sched = new ManualScheduler();
    let ended = false;
    const s = new SseResponseStream({ scheduler: sched, onEnd: () => (ended = true) });
    s.writeEvent({ id: 1, event: "e", data: "{}" });
    s.close("shutdown");
    s.close("again");
    assert.equal(await readAll(s.readable), "id: 1\nevent: e\ndata: {}\n\n: shutdown\n\n");
    assert.equal(ended, false);
    assert.equal(sched.timers.size, 0);
  });

  it("error() ends the body with an error", async () => {
    const s = new SseResponseStream({ scheduler: new ManualScheduler() });
    s.error(new Error("boom"));
    await assert.rejects(readAll(s.readable), /boom/);
  });

  it("bounds the bytes queued for a client that does not read", async () => {
    const sched = new ManualScheduler();
    const counters: SseStreamCounters = { heartbeats: 0, overflows: 0 };
    const ends: SseStreamEnd[] = [];
    const s = new SseResponseStream({
      scheduler: sched,
      openComment: false,
      maxQueuedBytes: 1000,
      counters,
      onEnd: (why) => ends.push(why),
    });
    const frame = `data: ${"x".repeat(92)}\n\n`; // 100 bytes
    for (let i = 0; i < 10; i++) assert.equal(s.write(frame), true, `write ${i}`);
    assert.equal(s.queuedBytes, 1000);
    assert.equal(s.write(frame), false, "the write past the bound ends the stream");
    assert.deepEqual(ends, ["overflow"]);
    assert.equal(counters.overflows, 1);
    assert.equal(sched.timers.size, 0);
    await assert.rejects(s.readable.getReader().read(), SlowSubscriberError);
  });

  it("lets one frame bigger than the bound through when nothing is queued", async () => {
    const s = new SseResponseStream({
      scheduler: new ManualScheduler(),
      openComment: false,
      maxQueuedBytes: 100,
    });
    const big = `data: ${"y".repeat(500)}\n\n`;
    assert.equal(s.write(big), true);
    s.close();
    assert.equal(await readAll(s.readable), big);
  });

  it("keeps accepting writes from a client that reads", async () => {
    const s = new SseResponseStream({
      scheduler: new ManualScheduler(),
      openComment: false,
      maxQueuedBytes: 300,
    });
    const reader = s.readable.getReader();
    const frame = `data: ${"z".repeat(92)}\n\n`;
    for (let i = 0; i < 100; i++) {
      assert.equal(s.write(frame), true);
      if (i % 2 === 1) await drain(reader, s);
    }
    s.close();
    reader.releaseLock();
    await s.readable.cancel();
  });

  it("serves a Response with SSE headers over a real server", async () => {
    const streams: SseResponseStream[] = [];
    const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen: (a) => resolve(a as Deno.NetAddr) },
      () => {
        const s = new SseResponseStream({ intervalMs: 60_000, retryMs: 1000 });
        streams.push(s);
        s.writeEvent({ id: 1, event: "hello", data: '{"a":1}' });
        s.close();
        return s.toResponse({ "x-extra": "1" });
      },
    );
    const addr = await listening;
    const res = await fetch(`http://127.0.0.1:${addr.port}/`);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache, no-transform");
    assert.equal(res.headers.get("x-extra"), "1");
    assert.equal(
      await res.text(),
      'retry: 1000\nid: 1\nevent: hello\ndata: {"a":1}\n\n',
    );
    await server.shutdown();
  });

  it("sends heartbeats with the real timers", async () => {
    const s = new SseResponseStream({ intervalMs: 10, openComment: false });
    const reader = s.readable.getReader();
    assert.equal(dec.decode((await reader.read()).value), HB);
    assert.equal(s.heartbeats, 1);
    s.close();
    assert.equal((await reader.read()).done, true);
  });

  it("fires onEnd('cancel') when a real client disconnects", async () => {
    const { promise: ended, resolve: onEnd } = Promise.withResolvers<SseStreamEnd>();
    const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen: (a) => resolve(a as Deno.NetAddr) },
      () => new SseResponseStream({ intervalMs: 60_000, onEnd, openComment: "ok" }).toResponse(),
    );
    const addr = await listening;
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${addr.port}/`, { signal: ac.signal });
    const reader = res.body!.getReader();
    assert.equal(dec.decode((await reader.read()).value), ": ok\n\n");
    await reader.cancel();
    assert.equal(await ended, "cancel");
    await server.shutdown();
  });
});
