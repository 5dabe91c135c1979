/**
 * A stream fed by a pull source (`SseStreamOptions.source`): asked again as soon as its last
 * call settled, whatever the client read; still bounded by `maxQueuedBytes` (a client that does
 * not read overflows, as with pushed writes); never asked again once closed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Scheduler,
  SlowSubscriberError,
  type SseResponseStream,
  SseResponseStream as Stream,
  type SseSource,
} from "../../lib/sse/heartbeat.ts";

/** Timers that never fire (these tests are about pulls, not heartbeats). */
const still: Scheduler = {
  now: () => 0,
  setTimer: () => 0,
  clearTimer: () => {},
};

/** A source that writes one frame per pull, from a list, then waits until `more()`. */
class ListSource implements SseSource {
  pulls = 0;
  #waiting: (() => void) | null = null;
  constructor(public frames: string[]) {}
  pull(stream: SseResponseStream): void | Promise<void> {
    this.pulls++;
    const next = this.frames.shift();
    if (next !== undefined) {
      stream.write(next);
      return;
    }
    return new Promise<void>((resolve) => {
      this.#waiting = () => {
        this.#waiting = null;
        const f = this.frames.shift();
        if (f !== undefined) stream.write(f);
        resolve();
      };
    });
  }
  more(frame: string): void {
    this.frames.push(frame);
    this.#waiting?.();
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("SseResponseStream with a pull source", () => {
  it("asks again after each write without the client reading, and waits when told to", async () => {
    const src = new ListSource(["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"]);
    const s = new Stream({ scheduler: still, source: src });
    await tick();
    assert.equal(s.queuedBytes, 27, "all three frames queued before any read");
    assert.equal(src.pulls, 4, "three writes, then one waiting pull");
    src.more("data: 4\n\n");
    await tick();
    assert.equal(s.queuedBytes, 36);
    assert.equal(src.pulls, 5);
    const reader = s.readable.getReader();
    let text = "";
    while (s.queuedBytes > 0) text += new TextDecoder().decode((await reader.read()).value);
    assert.equal(text, "data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
    s.close();
    src.more("data: 5\n\n");
    await tick();
    assert.equal(src.pulls, 5, "a closed stream asks nothing more");
    assert.deepEqual(await reader.read(), { done: true, value: undefined });
  });

  it("overflows a client that does not read, as pushed writes do", async () => {
    let ended: unknown;
    const frames = Array.from({ length: 100 }, (_, i) => `data: ${"x".repeat(100)} ${i}\n\n`);
    const src = new ListSource(frames);
    const s = new Stream({
      scheduler: still,
      source: src,
      maxQueuedBytes: 1024,
      onEnd: (why, reason) => ended = [why, reason],
    });
    for (let i = 0; i < 20; i++) await tick();
    assert.ok(s.closed, "the stream ended");
    assert.ok(Array.isArray(ended) && ended[0] === "overflow");
    assert.ok((ended as unknown[])[1] instanceof SlowSubscriberError);
    assert.ok(src.pulls < 20, `asked no more once it overflowed (${src.pulls})`);
    await assert.rejects(s.readable.getReader().read(), SlowSubscriberError);
  });
});
