import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { createUpstream, UpstreamError } from "../../lib/gateway/upstream.ts";
import { http1Fetch } from "../../lib/gateway/upstream_http1.ts";
import type { ExecuteRequest } from "../../lib/events.ts";
import { createFrameParser, type SseFrame } from "../../lib/sse/parse.ts";
import { readSseBatches } from "../../lib/sse/read_stream.ts";
import { type BodyReader, directReader } from "../../lib/gateway/upstream_body.ts";
import {
  FAKE_GRAPHS,
  type FakeUpstream,
  hotelEvents,
  startFakeUpstream,
} from "../fixtures/fake_upstream.ts";

const TOKEN = "test-token-0123456789";
const REQ: ExecuteRequest = {
  graph_name: "hotel_o2c",
  initial_state: { prompt: "2 nights in Lisbon" },
  thread_id: "run-1",
};

async function framesOf(stream: ReadableStream<Uint8Array>): Promise<SseFrame[]> {
  const out: SseFrame[] = [];
  for await (const batch of readSseBatches(stream)) out.push(...batch);
  return out;
}

function expectedFrames(req: ExecuteRequest): SseFrame[] {
  return hotelEvents(req).map(([event, data]) => ({ event, data: JSON.stringify(data) }));
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: UpstreamError["code"],
  status: number,
): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected UpstreamError, got ${error}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, status);
    return error;
  }
  assert.fail(`expected ${code}`);
}

function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

for (const transport of ["socket", "fetch"] as const) {
  describe(`upstream client over HTTP (${transport})`, () => {
    let fake: FakeUpstream;
    before(async () => {
      fake = await startFakeUpstream({ token: TOKEN });
    });
    after(async () => {
      await fake.close();
    });
    beforeEach(() => {
      fake.setScript("hotel");
      fake.setHealth(true);
    });
    const client = (timeoutMs = 2000) =>
      createUpstream({ url: fake.url, token: TOKEN, timeoutMs, transport });

    it("sends the bearer token, accept and a JSON body, and streams the frames", async () => {
      const stream = await client().execute(REQ);
      assert.deepEqual(await framesOf(stream), expectedFrames(REQ));
      const last = fake.requests.at(-1)!;
      assert.equal(last.path, "/execute");
      assert.equal(last.authorization, `Bearer ${TOKEN}`);
      assert.equal(last.accept, "text/event-stream");
      assert.equal(last.contentType, "application/json");
      assert.deepEqual(fake.executeCalls.at(-1), REQ);
    });

    it("relays frames split across writes and a resume call", async () => {
      fake.setScript("hotel_split");
      const resume: ExecuteRequest = {
        ...REQ,
        resume: { stepId: "approve_quote", decision: "approve" },
      };
      assert.deepEqual(await framesOf(await client().execute(resume)), expectedFrames(resume));
    });

    it("a wrong token is a 502 upstream_status (the client cannot fix our token)", async () => {
      const bad = createUpstream({ url: fake.url, token: "wrong", timeoutMs: 2000, transport });
      const e = await rejectsWith(bad.execute(REQ), "upstream_status", 502);
      assert.equal(e.upstreamStatus, 401);
    });

    it("unreachable: a closed port is upstream_unreachable, 502", async () => {
      const up = createUpstream({
        url: `http://127.0.0.1:${closedPort()}`,
        timeoutMs: 2000,
        transport,
      });
      await rejectsWith(up.execute(REQ), "upstream_unreachable", 502);
      await rejectsWith(up.graphs(), "upstream_unreachable", 502);
      await rejectsWith(up.abort("run-1"), "upstream_unreachable", 502);
    });

    it("a 500 is upstream_status 502; its body is kept for the log, never answered", async () => {
      fake.setScript("error500");
      const e = await rejectsWith(client().execute(REQ), "upstream_status", 502);
      assert.equal(e.upstreamStatus, 500);
      assert.deepEqual(e.body, { error: "internal", message: "graph crashed" });
      assert.deepEqual(e.toErrorBody(), {
        error: "upstream_status",
        message: "The workflow service failed (status 500)",
      });
      assert.equal(e.publicMessage, "The workflow service failed (status 500)");
    });

    it("a 404 JSON error is passed through as 404", async () => {
      fake.setScript("unknown_graph");
      const e = await rejectsWith(client().execute(REQ), "upstream_client_error", 404);
      assert.equal(e.upstreamStatus, 404);
      assert.deepEqual(e.body, { error: "unknown_graph", message: "no graph hotel_o2c" });
    });

    it("a 409 is passed through as 409", async () => {
      fake.setScript("conflict");
      await rejectsWith(client().execute(REQ), "upstream_client_error", 409);
    });

    it("a 200 text/html answer is upstream_not_sse, 502", async () => {
      fake.setScript("html");
      await rejectsWith(client().execute(REQ), "upstream_not_sse", 502);
    });

    it("a redirect is not followed (it could carry the token away)", async () => {
      fake.setScript((w) => {
        w.status(307).header("location", "http://127.0.0.1:1/elsewhere").close();
      });
      const e = await rejectsWith(client().execute(REQ), "upstream_status", 502);
      assert.equal(e.upstreamStatus, 307);
    });

    it("no headers within timeoutMs is upstream_timeout, 504, and the request is dropped", async () => {
      fake.setScript("silent");
      const before = fake.active;
      await rejectsWith(client(150).execute(REQ), "upstream_timeout", 504);
      // The fake's handler is still pending; the aborted connection is all it can see.
      assert.ok(fake.active >= before);
    });

    it("headers but no first byte within timeoutMs is upstream_timeout, cancelling the body", async () => {
      fake.setScript("silent_body");
      const cancelled = fake.cancelled;
      await rejectsWith(client(150).execute(REQ), "upstream_timeout", 504);
      await fake.waitFor((f) => f.cancelled === cancelled + 1);
    });

    it("cancelling the returned stream cancels the upstream response", async () => {
      fake.setScript("idle");
      const cancelled = fake.cancelled;
      const stream = await client().execute(REQ);
      const reader = stream.getReader();
      const first = await reader.read();
      assert.match(new TextDecoder().decode(first.value), /workflow_initialized/);
      await reader.cancel("client left");
      await fake.waitFor((f) => f.cancelled === cancelled + 1);
    });

    it("aborting the signal cancels a running stream, which errors with the reason", async () => {
      fake.setScript("idle");
      const cancelled = fake.cancelled;
      const ac = new AbortController();
      const stream = await client().execute(REQ, ac.signal);
      const reader = stream.getReader();
      await reader.read();
      const pending = reader.read();
      ac.abort(new Error("shutting down"));
      await assert.rejects(pending, /shutting down/);
      await fake.waitFor((f) => f.cancelled === cancelled + 1);
    });

    it("many open streams watch one signal through one listener; its abort ends them all", async () => {
      fake.setScript("idle");
      const cancelled = fake.cancelled;
      const ac = new AbortController();
      let listeners = 0;
      const add = ac.signal.addEventListener.bind(ac.signal);
      ac.signal.addEventListener = (...args: Parameters<typeof add>) => {
        listeners++;
        add(...args);
      };
      const readers = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const reader = (await client().execute(REQ, ac.signal)).getReader();
          await reader.read();
          return reader;
        }),
      );
      // The process's shutdown signal is watched by every open stream: listeners on the signal
      // itself would make each start and end scan all the others.
      assert.equal(listeners, 1);
      const pending = readers.map((r) => r.read());
      ac.abort(new Error("shutting down"));
      for (const p of pending) await assert.rejects(p, /shutting down/);
      await fake.waitFor((f) => f.cancelled === cancelled + 20);
    });

    it("aborting the signal before the answer rejects with the reason, not a timeout", async () => {
      fake.setScript("silent");
      const ac = new AbortController();
      const p = client(5000).execute(REQ, ac.signal);
      await fake.waitFor((f) => f.executeCalls.length > 0 && f.active > 0);
      ac.abort(new Error("gone"));
      await assert.rejects(p, /gone/);
    });

    it("a stream that breaks mid-body errors with upstream_error", async () => {
      fake.setScript("broken");
      const stream = await client().execute(REQ);
      await assert.rejects(
        framesOf(stream),
        (e) => e instanceof UpstreamError && e.code === "upstream_error",
      );
    });

    it("the relay reads an opened stream directly, with the stream's outcomes", async () => {
      const text = async (r: BodyReader) => {
        const dec = new TextDecoder();
        let out = "";
        for (let c = await r.read(); !c.done; c = await r.read()) out += dec.decode(c.value);
        return out;
      };
      // Frames: the same bytes as reading the stream, and the stream itself stays unread.
      const stream = await client().execute(REQ);
      const direct = directReader(stream)!;
      assert.ok(direct, "execute() streams are readable directly");
      assert.equal(directReader(stream), undefined, "taken once");
      const frames: SseFrame[] = [];
      const parser = createFrameParser((f) => frames.push(f));
      parser.feed(await text(direct));
      assert.deepEqual(frames, expectedFrames(REQ));
      assert.equal(stream.locked, false);
      // A break mid-body is upstream_error; an abort of the caller's signal is its reason.
      fake.setScript("broken");
      await assert.rejects(
        text(directReader(await client().execute(REQ))!),
        (e) => e instanceof UpstreamError && e.code === "upstream_error",
      );
      fake.setScript("idle");
      const cancelled = fake.cancelled;
      const ac = new AbortController();
      const idle = directReader(await client().execute(REQ, ac.signal))!;
      await idle.read();
      const pending = idle.read();
      ac.abort(new Error("shutting down"));
      await assert.rejects(pending, /shutting down/);
      await fake.waitFor((f) => f.cancelled === cancelled + 1);
      // Cancelling the reader cancels the upstream response.
      const open = directReader(await client().execute(REQ))!;
      await open.read();
      await open.cancel("client left");
      await fake.waitFor((f) => f.cancelled === cancelled + 2);
    });

    it("an empty SSE body resolves to an empty stream", async () => {
      fake.setScript("empty");
      assert.deepEqual(await framesOf(await client().execute(REQ)), []);
    });

    it("abort() posts the thread id", async () => {
      fake.setScript("idle");
      const stream = await client().execute({ ...REQ, thread_id: "run-abort" });
      await client().abort("run-abort");
      assert.equal(fake.abortCalls.at(-1), "run-abort");
      const frames = await framesOf(stream);
      assert.equal(frames.at(-1)!.event, "workflow_aborted");
    });

    it("health() reports reachable, status and latency; down and unreachable too", async () => {
      const up = await client().health();
      assert.equal(up.reachable, true);
      assert.equal(up.status, 200);
      assert.ok(up.latency_ms >= 0);
      fake.setHealth(false);
      const down = await client().health();
      assert.equal(down.reachable, false);
      assert.equal(down.status, 503);
      const gone = createUpstream({
        url: `http://127.0.0.1:${closedPort()}`,
        timeoutMs: 500,
        transport,
      });
      const h = await gone.health();
      assert.equal(h.reachable, false);
      assert.equal(h.status, undefined);
      assert.ok(h.error);
    });

    it("graphs() returns the validated list", async () => {
      assert.deepEqual(await client().graphs(), FAKE_GRAPHS);
      fake.setGraphs([{ name: "Bad Name" } as never]);
      try {
        await rejectsWith(client().graphs(), "upstream_bad_response", 502);
      } finally {
        fake.setGraphs(FAKE_GRAPHS);
      }
    });

    it("resolves paths under a base URL with a path prefix", async () => {
      const seen: string[] = [];
      const up = createUpstream({
        url: "http://example.invalid/svc?x=1",
        timeoutMs: 1000,
        fetch: (input) => {
          seen.push(String(input instanceof Request ? input.url : input));
          return Promise.resolve(Response.json({ graphs: [] }));
        },
      });
      await up.graphs();
      assert.deepEqual(seen, ["http://example.invalid/svc/graphs"]);
    });
  });
}

describe("upstream client over the socket transport", () => {
  it("reads the socket body as one stream layer, past the first-byte deadline", async () => {
    const fake = await startFakeUpstream({ token: TOKEN });
    try {
      fake.setScript("idle");
      const answers: Response[] = [];
      const up = createUpstream({
        url: fake.url,
        token: TOKEN,
        timeoutMs: 100,
        fetch: async (input, init) => {
          const res = await http1Fetch(input, init);
          answers.push(res);
          return res;
        },
      });
      const ac = new AbortController();
      const stream = await up.execute(REQ, ac.signal);
      // The client's own stream of the socket body is never read: the one returned reads the
      // socket directly (an idle upstream body holds one stream layer, not two).
      assert.equal(answers.length, 1);
      assert.equal(answers[0].body!.locked, false);
      const reader = stream.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /workflow_initialized/);
      // The first-byte deadline is gone once the first byte came: an idle stream outlives it.
      const pending = reader.read();
      const outcome = await Promise.race([
        pending.then(() => "read", () => "failed"),
        new Promise((r) => setTimeout(() => r("still idle"), 300)),
      ]);
      assert.equal(outcome, "still idle");
      const cancelled = fake.cancelled;
      ac.abort(new Error("shutting down"));
      await assert.rejects(pending, /shutting down/);
      await fake.waitFor((f) => f.cancelled === cancelled + 1);
    } finally {
      await fake.close();
    }
  });
});

describe("upstream client in-process", () => {
  const enc = new TextEncoder();

  it("calls the handler with no socket and streams its body", async () => {
    const seen: Request[] = [];
    const up = createUpstream({
      token: TOKEN,
      timeoutMs: 1000,
      inProcess: (req) => {
        seen.push(req);
        return Promise.resolve(
          new Response("event: workflow_complete\ndata: {}\n\n", {
            headers: { "content-type": "text/event-stream" },
          }),
        );
      },
    });
    assert.equal(up.mode, "built-in");
    const frames = await framesOf(await up.execute(REQ));
    assert.deepEqual(frames, [{ event: "workflow_complete", data: "{}" }]);
    assert.equal(new URL(seen[0].url).pathname, "/execute");
    assert.equal(seen[0].headers.get("authorization"), `Bearer ${TOKEN}`);
    assert.deepEqual(await seen[0].json(), REQ);
  });

  it("cancelling the stream cancels the in-process body", async () => {
    const { promise: cancelled, resolve } = Promise.withResolvers<unknown>();
    const up = createUpstream({
      timeoutMs: 1000,
      inProcess: () =>
        Promise.resolve(
          new Response(
            new ReadableStream<Uint8Array>({
              start: (c) => c.enqueue(enc.encode("data: 1\n\n")),
              cancel: resolve,
            }),
            { headers: { "content-type": "text/event-stream" } },
          ),
        ),
    });
    const stream = await up.execute(REQ);
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel("bye");
    assert.equal(await cancelled, "bye");
  });

  it("times out when the handler never answers, and when it sends no first byte", async () => {
    const never = createUpstream({ timeoutMs: 100, inProcess: () => new Promise(() => {}) });
    await rejectsWith(never.execute(REQ), "upstream_timeout", 504);
    const { promise: cancelled, resolve } = Promise.withResolvers<void>();
    const silent = createUpstream({
      timeoutMs: 100,
      inProcess: () =>
        Promise.resolve(
          new Response(new ReadableStream({ cancel: () => resolve() }), {
            headers: { "content-type": "text/event-stream" },
          }),
        ),
    });
    await rejectsWith(silent.execute(REQ), "upstream_timeout", 504);
    await cancelled;
  });

  it("a throwing handler is upstream_error 502", async () => {
    const up = createUpstream({
      timeoutMs: 1000,
      inProcess: () => Promise.reject(new Error("graph import failed")),
    });
    await rejectsWith(up.execute(REQ), "upstream_error", 502);
    const h = await up.health();
    assert.equal(h.reachable, false);
  });

  it("needs a url or a handler", () => {
    assert.throws(() => createUpstream({ timeoutMs: 1 }), TypeError);
    assert.throws(() => createUpstream({ url: "ftp://x", timeoutMs: 1 }), TypeError);
  });
});
