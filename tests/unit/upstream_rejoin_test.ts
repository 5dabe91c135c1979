/**
 * The execute client's rejoin (`GET /runs/{thread_id}/stream` with `Last-Event-ID`) over both
 * HTTP transports and in-process, against the scripted fake service on a real `Deno.serve`:
 * replay after an id then live to the end, a gate ending the stream, the answers that mean
 * "unknown thread" or "no rejoin here", and faults classified like `/execute`'s.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { createUpstream, type Upstream, UpstreamError } from "../../lib/gateway/upstream.ts";
import { type SseFrame } from "../../lib/sse/parse.ts";
import { readSseBatches } from "../../lib/sse/read_stream.ts";
import {
  FAKE_TS,
  type FakeUpstream,
  hotelEvents,
  type Script,
  startFakeUpstream,
} from "../fixtures/fake_upstream.ts";

const TOKEN = "rejoin-token-0123456789";

async function framesOf(stream: ReadableStream<Uint8Array>): Promise<SseFrame[]> {
  const out: SseFrame[] = [];
  for await (const batch of readSseBatches(stream)) out.push(...batch);
  return out;
}

/** Reads `n` frames of a stream, then cancels it (a relay that dies after n events). */
async function takeFrames(stream: ReadableStream<Uint8Array>, n: number): Promise<SseFrame[]> {
  const out: SseFrame[] = [];
  const it = readSseBatches(stream)[Symbol.asyncIterator]();
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(...r.value);
  }
  await it.return?.();
  return out.slice(0, n);
}

async function rejectsWith(promise: Promise<unknown>, code: UpstreamError["code"]) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected UpstreamError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

/** Released by the test: the part of `slowRun` after it can only be read live. */
let release = Promise.withResolvers<void>();

/** Six events, the last three once the test releases them: a rejoin before must follow live. */
const slowRun: Script = async (w, ctx) => {
  const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
  w.frame("workflow_initialized", { ...base, graph: ctx.request.graph_name });
  for (const step of ["a", "b"]) w.frame("step_started", { ...base, step });
  await release.promise;
  for (const step of ["c", "d"]) w.frame("step_started", { ...base, step });
  w.frame("workflow_complete", { ...base, status: "complete", result: null });
};

type Kind = "socket" | "fetch" | "in-process";

for (const kind of ["socket", "fetch", "in-process"] as const satisfies readonly Kind[]) {
  describe(`upstream rejoin (${kind})`, () => {
    let fake: FakeUpstream;
    let up: Upstream;
    before(async () => {
      fake = await startFakeUpstream({ token: TOKEN, ids: true, rejoin: "replay" });
      up = kind === "in-process"
        ? createUpstream({ inProcess: fake.handler, token: TOKEN, timeoutMs: 2000 })
        : createUpstream({ url: fake.url, token: TOKEN, timeoutMs: 2000, transport: kind });
    });
    after(async () => {
      await fake.close();
    });
    beforeEach(() => {
      fake.setRejoin("replay");
      fake.setScript(slowRun);
      release = Promise.withResolvers<void>();
    });

    it("execute frames carry the thread's ids; rejoin replays after the id, then follows live", async () => {
      const thread = `slow-${kind}`;
      const seen = await takeFrames(
        await up.execute({ graph_name: "hotel_o2c", initial_state: {}, thread_id: thread }),
        2,
      );
      assert.deepEqual(seen.map((f) => f.id), ["1", "2"]);
      const r = await up.rejoin(thread, "2");
      assert.equal(r.kind, "stream");
      // Only three events exist yet: the rest can only come live.
      assert.equal(fake.threadLog(thread).length, 3);
      const reading = framesOf((r as { body: ReadableStream<Uint8Array> }).body);
      release.resolve();
      const rest = await reading;
      assert.deepEqual(rest.map((f) => f.id), ["3", "4", "5", "6"]);
      assert.deepEqual(rest.map((f) => f.event), [
        "step_started",
        "step_started",
        "step_started",
        "workflow_complete",
      ]);
      assert.deepEqual(fake.rejoinCalls.at(-1), { threadId: thread, after: "2" });
      // What was replayed is the thread's log, byte for byte.
      assert.deepEqual(
        rest.map((f) => f.data),
        fake.threadLog(thread).slice(2).map((f) => f.data),
      );
      const last = fake.requests.at(-1)!;
      assert.equal(last.method, "GET");
      assert.equal(last.path, `/runs/${thread}/stream`);
      assert.equal(last.authorization, `Bearer ${TOKEN}`);
      assert.equal(last.accept, "text/event-stream");
    });

    it("afterId null replays from the first event and sends no Last-Event-ID", async () => {
      fake.setScript("hotel");
      const thread = `gate-${kind}`;
      await framesOf(
        await up.execute({ graph_name: "hotel_o2c", initial_state: {}, thread_id: thread }),
      );
      const r = await up.rejoin(thread, null);
      assert.equal(r.kind, "stream");
      const all = await framesOf((r as { body: ReadableStream<Uint8Array> }).body);
      const expected = hotelEvents({
        graph_name: "hotel_o2c",
        initial_state: {},
        thread_id: thread,
      });
      // A thread waiting at its gate: the replay ends with approval_required.
      assert.deepEqual(all.map((f) => f.event), expected.map(([type]) => type));
      assert.equal(all.at(-1)!.event, "approval_required");
      assert.deepEqual(all.map((f) => Number(f.id)), expected.map((_, i) => i + 1));
      assert.deepEqual(fake.rejoinCalls.at(-1), { threadId: thread, after: null });
    });

    it("a thread the service does not know is unknown_thread", async () => {
      const r = await up.rejoin("never-started", "3");
      assert.equal(r.kind, "unknown_thread");
      // Generic words: the service's own message stays out of run logs.
      assert.equal(
        (r as { reason: string }).reason,
        "the workflow service no longer knows the thread",
      );
    });

    it("a thread the service forgot is unknown_thread", async () => {
      fake.setScript("complete");
      const thread = `forgot-${kind}`;
      await framesOf(
        await up.execute({ graph_name: "hotel_o2c", initial_state: {}, thread_id: thread }),
      );
      fake.forget(thread);
      assert.equal((await up.rejoin(thread, "1")).kind, "unknown_thread");
    });

    it("events the service no longer keeps (410 events_expired) cannot be rejoined either", async () => {
      fake.setScript("complete");
      const thread = `expired-${kind}`;
      await framesOf(
        await up.execute({ graph_name: "hotel_o2c", initial_state: {}, thread_id: thread }),
      );
      fake.setRejoin("expired");
      const r = await up.rejoin(thread, "1");
      // Not a fault to retry: an unbroken sequence is no longer to be had (a truthful relay_lost).
      assert.equal(r.kind, "unknown_thread");
      assert.equal(
        (r as { reason: string }).reason,
        "the workflow service no longer keeps the thread's events after the last one logged",
      );
    });

    it("no endpoint (a generic 404, or 405) is unsupported", async () => {
      fake.setRejoin("absent");
      assert.equal((await up.rejoin("any", "1")).kind, "unsupported");
      fake.setRejoin("absent_405");
      assert.equal((await up.rejoin("any", "1")).kind, "unsupported");
    });

    it("a wrong token is upstream_status, not unsupported", async () => {
      const bad = kind === "in-process"
        ? createUpstream({ inProcess: fake.handler, token: "wrong", timeoutMs: 2000 })
        : createUpstream({ url: fake.url, token: "wrong", timeoutMs: 2000, transport: kind });
      const e = await rejectsWith(bad.rejoin("any", "1"), "upstream_status");
      assert.equal(e.upstreamStatus, 401);
    });

    it("ids order numerically", () => {
      assert.equal(up.isAfter("10", "9"), true);
      assert.equal(up.isAfter("9", "10"), false);
      assert.equal(up.isAfter("3", "3"), false);
    });
  });
}

/** A tiny service whose rejoin answer the test chooses (faults the fake does not script). */
function faultyService(answer: () => Response | Promise<Response>) {
  return (req: Request): Promise<Response> => {
    if (!new URL(req.url).pathname.startsWith("/runs/")) {
      return Promise.resolve(new Response("no", { status: 404 }));
    }
    return Promise.resolve(answer());
  };
}

for (const kind of ["socket", "fetch", "in-process"] as const satisfies readonly Kind[]) {
  describe(`upstream rejoin faults (${kind})`, () => {
    let answer: () => Response | Promise<Response> = () => new Response("");
    let server: Deno.HttpServer<Deno.NetAddr>;
    let up: Upstream;
    const handler = faultyService(() => answer());
    before(async () => {
      const listening = Promise.withResolvers<Deno.NetAddr>();
      server = Deno.serve({
        port: 0,
        hostname: "127.0.0.1",
        onListen: (a) => listening.resolve(a),
      }, handler);
      const addr = await listening.promise;
      up = kind === "in-process"
        ? createUpstream({ inProcess: handler, timeoutMs: 300 })
        : createUpstream({
          url: `http://127.0.0.1:${addr.port}`,
          timeoutMs: 300,
          transport: kind,
        });
    });
    after(async () => {
      await server.shutdown();
    });

    it("a 500 is upstream_status with the body", async () => {
      answer = () => Response.json({ error: "boom", message: "store down" }, { status: 500 });
      const e = await rejectsWith(up.rejoin("t", "1"), "upstream_status");
      assert.equal(e.upstreamStatus, 500);
      assert.deepEqual(e.body, { error: "boom", message: "store down" });
    });

    it("a 200 that is not SSE is upstream_not_sse", async () => {
      answer = () => new Response("<html></html>", { headers: { "content-type": "text/html" } });
      await rejectsWith(up.rejoin("t", "1"), "upstream_not_sse");
    });

    it("headers but no first byte within the timeout is upstream_timeout", async () => {
      let cancelled = false;
      answer = () =>
        new Response(
          new ReadableStream({
            cancel() {
              cancelled = true;
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        );
      await rejectsWith(up.rejoin("t", "1"), "upstream_timeout");
      if (kind === "in-process") assert.equal(cancelled, true);
    });

    it("an aborted signal rejects with its reason", async () => {
      answer = () =>
        new Response(new ReadableStream(), { headers: { "content-type": "text/event-stream" } });
      const ac = new AbortController();
      const reason = new Error("stop");
      const p = up.rejoin("t", "1", ac.signal);
      ac.abort(reason);
      await assert.rejects(p, (e) => e === reason);
    });
  });
}

describe("upstream rejoin: unreachable service", () => {
  it("a closed port is upstream_unreachable", async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    for (const transport of ["socket", "fetch"] as const) {
      const up = createUpstream({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000, transport });
      await rejectsWith(up.rejoin("t", "1"), "upstream_unreachable");
    }
  });
});
