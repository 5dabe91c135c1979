/**
 * The browser stream client against tiny scripted SSE servers (real `Deno.serve` on port 0).
 * Each server answers requests from a script; streams are pull-driven so a cut (`ERROR`) or a
 * clean close (`CLOSE`) happens only after the chunks before it were handed to the socket.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type StreamEvent,
  streamRun,
  type StreamRunOptions,
  type StreamStatus,
} from "../../lib/client/stream_client.ts";
import { backoffDelay } from "../../lib/client/backoff.ts";
import { within } from "../fixtures/within.ts";

const encoder = new TextEncoder();
const SSE = "text/event-stream; charset=utf-8";

function frame(id: number, type: string, data: Record<string, unknown> = {}): string {
  const body = JSON.stringify({ workflowId: "run", ts: "2026-01-01T00:00:00Z", ...data });
  return `id: ${id}\nevent: ${type}\ndata: ${body}\n\n`;
}
const complete = (id: number) => frame(id, "workflow_complete", { status: "complete", result: 1 });

type Item = string | "CLOSE" | "ERROR";

/** Feeds handed to a server, so a failing test can still end them and shut the server down. */
const liveFeeds = new Set<Feed>();

/** A scripted event stream; without CLOSE/ERROR it stays open until the client cancels it. */
class Feed {
  readonly cancelled: Promise<void>;
  #items: Item[];
  #wake?: () => void;
  #onCancel!: () => void;

  constructor(items: Item[] = []) {
    this.#items = [...items];
    this.cancelled = new Promise((resolve) => this.#onCancel = resolve);
  }

  push(...items: Item[]): void {
    this.#items.push(...items);
    this.#wake?.();
  }

  response(contentType = SSE): Response {
    liveFeeds.add(this);
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        while (!this.#items.length) await new Promise<void>((r) => this.#wake = r);
        const item = this.#items.shift()!;
        if (item === "CLOSE" || item === "ERROR") liveFeeds.delete(this);
        if (item === "CLOSE") controller.close();
        // Deno.serve prints the reason of an errored body; an empty one prints a blank line.
        else if (item === "ERROR") controller.error("");
        else controller.enqueue(encoder.encode(item));
      },
      cancel: () => {
        liveFeeds.delete(this);
        this.#onCancel();
      },
    }, { highWaterMark: 0 });
    return new Response(stream, { headers: { "content-type": contentType } });
  }
}

function json(status: number, body: unknown): Response {
  return Response.json(body, { status });
}

interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

type Reply = (seen: Seen, index: number) => Response | Promise<Response>;

/** Answers the n-th request with the n-th reply (500 when the script runs out). */
function script(...replies: (() => Response)[]): Reply {
  return (_seen, n) => replies[n]?.() ?? json(500, { error: "script", message: "no more" });
}

async function withServer(
  reply: Reply,
  test: (base: string, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const s = {
      method: req.method,
      path: new URL(req.url).pathname,
      headers: req.headers,
      body: await req.text(),
    };
    seen.push(s);
    return await reply(s, seen.length - 1);
  });
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    // A broken client could wait forever; fail instead of hanging the suite.
    const timeout = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error("test did not finish in 5 s")), 5000);
    });
    await Promise.race([test(`http://127.0.0.1:${server.addr.port}`, seen), timeout]);
  } finally {
    clearTimeout(guard);
    for (const feed of liveFeeds) feed.push("CLOSE");
    await server.shutdown();
  }
}

/** Options that record events, statuses and log lines; backoff is ~0 ms unless overridden. */
function recorder(extra: Partial<StreamRunOptions> = {}) {
  const events: StreamEvent[] = [];
  const statuses: StreamStatus[] = [];
  const logs: string[] = [];
  const waiters: { pred: (e: StreamEvent) => boolean; resolve: () => void }[] = [];
  const opts: StreamRunOptions = {
    body: { graph_name: "invoice", initial_state: { prompt: "hi" } },
    onEvent: (e) => {
      events.push(e);
      for (const w of waiters) if (w.pred(e)) w.resolve();
    },
    onStatus: (s) => statuses.push(s),
    log: (line) => logs.push(line),
    backoffMs: 1,
    ...extra,
  };
  /** Resolves when an event matching `pred` arrives. */
  const until = (pred: (e: StreamEvent) => boolean) =>
    new Promise<void>((resolve) => waiters.push({ pred, resolve }));
  const summary = () => events.map((e) => `${e.id}:${e.type}`);
  return { events, statuses, logs, opts, until, summary };
}

/**
 * Timers whose watchdog (`watchMs`) fires only when the test says so; every other delay is
 * recorded and run on the next macrotask.
 */
function fakeTimers(watchMs: number) {
  let next = 1;
  const watchdogs = new Map<number, () => void>();
  const real = new Map<number, ReturnType<typeof setTimeout>>();
  const delays: number[] = [];
  let arms = 0;
  let onArm: (() => void) | undefined;
  return {
    delays,
    watchdogs,
    get arms() {
      return arms;
    },
    nextArm: () => new Promise<void>((r) => onArm = r),
    setTimeout(fn: () => void, ms: number): unknown {
      const id = next++;
      if (ms === watchMs) {
        watchdogs.set(id, fn);
        arms++;
        onArm?.();
      } else {
        delays.push(ms);
        real.set(
          id,
          setTimeout(() => {
            real.delete(id);
            fn();
          }, 0),
        );
      }
      return id;
    },
    clearTimeout(id: unknown): void {
      watchdogs.delete(id as number);
      const t = real.get(id as number);
      if (t !== undefined) clearTimeout(t);
      real.delete(id as number);
    },
  };
}

describe("streamRun", () => {
  it("POSTs once, delivers events in order, hides heartbeats, ends on the terminal event", async () => {
    const feed = new Feed([
      ": connected\n\n",
      "retry: 1000\n\n",
      frame(1, "workflow_initialized", { graph: "invoice" }),
      // one frame split mid-field, then a heartbeat, then a terminal with a stray frame after it
      frame(2, "step_started", { step: "draft" }).slice(0, 20),
      frame(2, "step_started", { step: "draft" }).slice(20) + ": heartbeat\n\n",
      complete(3) + frame(4, "step_started", { step: "late" }),
    ]);
    await withServer(script(() => feed.response()), async (base, seen) => {
      const r = recorder({ baseUrl: base, runId: "run-1", headers: { authorization: "Bearer t" } });
      const run = streamRun(r.opts);
      const outcome = await run.done;
      await feed.cancelled; // the client cancelled the still-open body
      assert.equal(run.runId, "run-1");
      assert.deepEqual(r.summary(), [
        "1:workflow_initialized",
        "2:step_started",
        "3:workflow_complete",
      ]);
      assert.deepEqual(r.events[1].data.step, "draft");
      assert.equal(outcome.end, "terminal");
      assert.equal(outcome.event?.id, 3);
      assert.equal(outcome.lastEventId, 3);
      assert.deepEqual(r.statuses, ["connecting", "streaming", "closed"]);
      assert.deepEqual(r.logs, [
        "[workflow] event: workflow_initialized",
        "[workflow] event: step_started",
        "[workflow] event: workflow_complete",
      ]);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].method, "POST");
      assert.equal(seen[0].path, "/agui");
      assert.equal(seen[0].headers.get("accept"), "text/event-stream");
      assert.equal(seen[0].headers.get("content-type"), "application/json");
      assert.equal(seen[0].headers.get("authorization"), "Bearer t");
      assert.deepEqual(JSON.parse(seen[0].body), {
        graph_name: "invoice",
        initial_state: { prompt: "hi" },
        run_id: "run-1",
      });
    });
  });

  it("makes a UUID run id when none is given", async () => {
    await withServer(script(() => new Feed([complete(1)]).response()), async (base, seen) => {
      const run = streamRun(recorder({ baseUrl: base }).opts);
      await run.done;
      assert.match(run.runId, /^[0-9a-f-]{36}$/);
      assert.equal(JSON.parse(seen[0].body).run_id, run.runId);
    });
  });

  it("resumes a cut stream with GET + Last-Event-ID and drops replayed ids", async () => {
    const post = new Feed([
      frame(1, "workflow_initialized", { graph: "g" }),
      frame(2, "step_started", { step: "a" }),
      "ERROR",
    ]);
    const get = new Feed([
      frame(2, "step_started", { step: "a" }),
      frame(3, "step_completed", { step: "a", result: 1 }),
      complete(4),
      "CLOSE",
    ]);
    await withServer(script(() => post.response(), () => get.response()), async (base, seen) => {
      const r = recorder({ baseUrl: base, runId: "run-2", headers: { authorization: "Bearer t" } });
      const outcome = await streamRun(r.opts).done;
      assert.deepEqual(r.summary(), [
        "1:workflow_initialized",
        "2:step_started",
        "0:workflow_reconnecting",
        "3:step_completed",
        "4:workflow_complete",
      ]);
      assert.equal(r.events[2].data.attempt, 1);
      assert.equal(r.events[2].data.maxRetries, 3);
      assert.equal(r.events[2].data.workflowId, "run-2");
      assert.equal(seen.length, 2);
      assert.equal(seen[1].method, "GET");
      assert.equal(seen[1].path, "/agui/runs/run-2/events");
      assert.equal(seen[1].headers.get("last-event-id"), "2");
      assert.equal(seen[1].headers.get("authorization"), "Bearer t");
      assert.equal(outcome.end, "terminal");
      assert.deepEqual(r.statuses, [
        "connecting",
        "streaming",
        "reconnecting",
        "streaming",
        "closed",
      ]);
    });
  });

  it("treats a clean close without a terminal event as a failure to retry", async () => {
    const post = new Feed([frame(1, "workflow_initialized", { graph: "g" }), "CLOSE"]);
    const get = new Feed([complete(2)]);
    await withServer(script(() => post.response(), () => get.response()), async (base, seen) => {
      const r = recorder({ baseUrl: base, runId: "run-3" });
      const outcome = await streamRun(r.opts).done;
      assert.deepEqual(r.summary(), [
        "1:workflow_initialized",
        "0:workflow_reconnecting",
        "2:workflow_complete",
      ]);
      assert.equal(seen[1].headers.get("last-event-id"), "1");
      assert.equal(outcome.end, "terminal");
    });
  });

  it("gives up after maxRetries failures with a connection_lost error", async () => {
    const post = new Feed([frame(1, "workflow_initialized", { graph: "g" }), "ERROR"]);
    const busy = () => json(503, { error: "busy", message: "try later" });
    await withServer(script(() => post.response(), busy, busy, busy), async (base, seen) => {
      const r = recorder({ baseUrl: base, runId: "run-4" });
      const outcome = await streamRun(r.opts).done;
      assert.deepEqual(r.summary(), [
        "1:workflow_initialized",
        "0:workflow_reconnecting",
        "0:workflow_reconnecting",
        "0:workflow_reconnecting",
        "0:workflow_error",
      ]);
      assert.deepEqual(r.events.slice(1, 4).map((e) => e.data.attempt), [1, 2, 3]);
      const error = r.events[4].data;
      assert.equal(error.code, "connection_lost");
      assert.equal(error.retries, 3);
      assert.equal(error.message, "try later (gave up after 3 retries)");
      assert.equal(error.status, 503);
      assert.deepEqual(seen.map((s) => s.method), ["POST", "GET", "GET", "GET"]);
      assert.equal(outcome.end, "failed");
      assert.equal(outcome.event, r.events[4]);
      assert.equal(r.statuses.at(-1), "closed");
    });
  });

  it("keeps the gateway's message when a start keeps failing with a 5xx", async () => {
    const message = "The workflow service is unreachable: connection refused";
    const down = () => json(502, { error: "upstream_unreachable", message });
    await withServer(script(down, down, down), async (base, seen) => {
      const r = recorder({ baseUrl: base, maxRetries: 2 });
      const outcome = await streamRun(r.opts).done;
      assert.deepEqual(seen.map((s) => s.method), ["POST", "POST", "POST"]);
      assert.equal(outcome.end, "failed");
      const error = outcome.event?.data ?? {};
      assert.equal(error.code, "connection_lost");
      assert.equal(error.status, 502, "the status tells the panel it is the service");
      assert.equal(error.message, `${message} (gave up after 2 retries)`);
      assert.ok(r.logs.includes(`[workflow] connection failed (${message})`));
    });
  });

  it("resets the retry counter only when a reconnect brings a new event", async () => {
    const feeds = [
      new Feed([frame(1, "step_started", { step: "a" }), "CLOSE"]),
      new Feed([frame(1, "step_started", { step: "a" }), "CLOSE"]), // replay only: no progress
      new Feed([frame(2, "step_started", { step: "b" }), "ERROR"]), // progress: counter resets
      new Feed([complete(3)]),
    ];
    await withServer(script(...feeds.map((f) => () => f.response())), async (base) => {
      const r = recorder({ baseUrl: base, maxRetries: 2 });
      const outcome = await streamRun(r.opts).done;
      const attempts = r.events.filter((e) => e.type === "workflow_reconnecting")
        .map((e) => e.data.attempt);
      assert.deepEqual(attempts, [1, 2, 1]);
      assert.equal(outcome.end, "terminal");
      assert.deepEqual(r.events.filter((e) => e.id).map((e) => e.id), [1, 2, 3]);
    });
  });

  it("stops at once on a 4xx and surfaces the server's message", async () => {
    const reply = () => json(400, { error: "invalid_request", message: "graph_name: bad name" });
    await withServer(script(reply), async (base, seen) => {
      const r = recorder({ baseUrl: base });
      const outcome = await streamRun(r.opts).done;
      assert.equal(seen.length, 1);
      assert.deepEqual(r.summary(), ["0:workflow_error"]);
      assert.equal(outcome.end, "failed");
      assert.equal(outcome.event?.data.code, "invalid_request");
      assert.equal(outcome.event?.data.message, "graph_name: bad name");
      assert.equal(outcome.event?.data.status, 400);
      assert.equal(outcome.event?.data.retries, 0);
    });
  });

  it("attaches with a GET when given only a run id, and a 404 there is final", async () => {
    const reply = () => json(404, { error: "not_found", message: "no run r9" });
    await withServer(script(reply), async (base, seen) => {
      const r = recorder({ baseUrl: base, body: undefined, runId: "r9", lastEventId: 5 });
      const outcome = await streamRun(r.opts).done;
      assert.equal(seen.length, 1);
      assert.equal(seen[0].method, "GET");
      assert.equal(seen[0].path, "/agui/runs/r9/events");
      assert.equal(seen[0].headers.get("last-event-id"), "5");
      assert.equal(outcome.event?.data.message, "no run r9");
    });
  });

  it("repeats the idempotent POST (same run_id) until one is answered with a stream", async () => {
    const reply = script(
      () => json(502, { error: "bad_gateway", message: "x" }),
      () => new Feed([complete(1)]).response(),
    );
    await withServer(reply, async (base, seen) => {
      const r = recorder({ baseUrl: base, runId: "run-5" });
      const outcome = await streamRun(r.opts).done;
      assert.deepEqual(seen.map((s) => s.method), ["POST", "POST"]);
      assert.equal(JSON.parse(seen[1].body).run_id, "run-5");
      assert.deepEqual(r.summary(), ["0:workflow_reconnecting", "1:workflow_complete"]);
      assert.equal(outcome.end, "terminal");
    });
  });

  it("rejects a 2xx answer that is not an event stream, without retrying", async () => {
    const reply = () =>
      new Response("<html>login</html>", { headers: { "content-type": "text/html" } });
    await withServer(script(reply), async (base, seen) => {
      const r = recorder({ baseUrl: base });
      const outcome = await streamRun(r.opts).done;
      assert.equal(seen.length, 1);
      assert.equal(outcome.end, "failed");
      assert.equal(outcome.event?.data.code, "not_sse");
      assert.match(String(outcome.event?.data.message), /text\/html/);
    });
  });

  it("detects a dead connection by heartbeat silence and resumes", async () => {
    const silent = new Feed([": connected\n\n", frame(1, "step_started", { step: "a" })]);
    await withServer(
      script(() => silent.response(), () => new Feed([complete(2)]).response()),
      async (base, seen) => {
        // Injected timers: the silence is declared by firing the watchdog, not by waiting for
        // it, so a loaded machine cannot make it fire before the first event arrives.
        const timers = fakeTimers(30);
        const r = recorder({ baseUrl: base, heartbeatMs: 10, ...timers });
        const run = streamRun(r.opts);
        await r.until((e) => e.id === 1);
        for (const fire of timers.watchdogs.values()) fire();
        const outcome = await within(run.done, 10_000, "the reconnect after silence");
        await silent.cancelled;
        assert.equal(seen[1].headers.get("last-event-id"), "1");
        assert.deepEqual(r.summary(), [
          "1:step_started",
          "0:workflow_reconnecting",
          "2:workflow_complete",
        ]);
        assert.ok(r.logs.includes("[workflow] connection failed (no data for 30 ms)"));
        assert.equal(outcome.end, "terminal");
      },
    );
  });

  it("counts heartbeat comments as liveness (they re-arm the watchdog)", async () => {
    const timers = fakeTimers(3000);
    const feed = new Feed([frame(1, "step_started", { step: "a" })]);
    await withServer(script(() => feed.response()), async (base, seen) => {
      const r = recorder({ baseUrl: base, heartbeatMs: 1000, ...timers });
      const run = streamRun(r.opts);
      await r.until((e) => e.id === 1);
      const [before] = [...timers.watchdogs.keys()];
      const armed = timers.nextArm();
      feed.push(": heartbeat\n\n");
      await armed;
      assert.equal(timers.watchdogs.size, 1);
      assert.ok(!timers.watchdogs.has(before), "the old watchdog was cleared");
      feed.push(complete(2));
      assert.equal((await run.done).end, "terminal");
      assert.equal(seen.length, 1);
      assert.equal(timers.watchdogs.size, 0);
      assert.deepEqual(r.summary(), ["1:step_started", "2:workflow_complete"]);
    });
  });

  it("waits for the browser to be online before reconnecting", async () => {
    let online = true;
    let release!: () => void;
    let waited!: () => void;
    const waiting = new Promise<void>((r) => waited = r);
    const post = new Feed([frame(1, "step_started", { step: "a" }), "ERROR"]);
    await withServer(
      script(() => post.response(), () => new Feed([complete(2)]).response()),
      async (base, seen) => {
        const r = recorder({
          baseUrl: base,
          isOnline: () => online,
          waitOnline: () => {
            waited();
            return new Promise((resolve) => release = resolve);
          },
        });
        r.until((e) => e.id === 1).then(() => online = false);
        const run = streamRun(r.opts);
        await waiting;
        assert.equal(seen.length, 1, "no request while offline");
        assert.equal(r.statuses.at(-1), "offline");
        online = true;
        release();
        assert.equal((await run.done).end, "terminal");
        assert.equal(seen[1].headers.get("last-event-id"), "1");
        assert.deepEqual(r.statuses, [
          "connecting",
          "streaming",
          "reconnecting",
          "offline",
          "reconnecting",
          "streaming",
          "closed",
        ]);
      },
    );
  });

  it("backs off exponentially with the injected jitter", async () => {
    const timers = fakeTimers(45000);
    let draws = 0;
    const random = () => (draws++, 0.5);
    const post = new Feed([frame(1, "step_started", { step: "a" }), "ERROR"]);
    const busy = () => json(503, { error: "busy", message: "later" });
    const reply = script(
      () => post.response(),
      busy,
      busy,
      () => new Feed([complete(2)]).response(),
    );
    await withServer(reply, async (base, seen) => {
      const r = recorder({ baseUrl: base, ...timers, random, backoffMs: 500 });
      assert.equal((await streamRun(r.opts).done).end, "terminal");
      assert.equal(seen.length, 4);
      assert.deepEqual(timers.delays, [250, 500, 1000]);
      assert.equal(draws, 3);
    });
  });

  it("sends approvals and reports a 409 as a failed action", async () => {
    const feed = new Feed([
      frame(1, "approval_required", { stepId: "s1", message: "ok?" }),
    ]);
    const reply: Reply = (seen) => {
      if (seen.path === "/agui") return feed.response();
      const { stepId, decision } = JSON.parse(seen.body);
      if (stepId !== "s1") {
        return json(409, { error: "not_waiting", message: `${stepId} is not waiting` });
      }
      feed.push(frame(2, "approval_resolved", { stepId, decision }), complete(3));
      return json(202, { accepted: true });
    };
    await withServer(reply, async (base, seen) => {
      const r = recorder({ baseUrl: base, runId: "run-6", headers: { authorization: "Bearer t" } });
      const run = streamRun(r.opts);
      await r.until((e) => e.type === "approval_required");
      assert.deepEqual(await run.approve("s0", "approve"), {
        ok: false,
        status: 409,
        error: "not_waiting",
        message: "s0 is not waiting",
      });
      assert.deepEqual(await run.approve("s1", "reject", "too pricey"), {
        ok: true,
        status: 202,
        body: { accepted: true },
      });
      const approval = seen[2];
      assert.equal(approval.method, "POST");
      assert.equal(approval.path, "/agui/runs/run-6/approval");
      assert.equal(approval.headers.get("content-type"), "application/json");
      assert.equal(approval.headers.get("authorization"), "Bearer t");
      assert.deepEqual(JSON.parse(approval.body), {
        stepId: "s1",
        decision: "reject",
        comment: "too pricey",
      });
      assert.deepEqual(JSON.parse(seen[1].body), { stepId: "s0", decision: "approve" });
      const outcome = await run.done;
      assert.equal(outcome.end, "terminal");
      assert.deepEqual(r.summary(), [
        "1:approval_required",
        "2:approval_resolved",
        "3:workflow_complete",
      ]);
    });
  });

  it("aborts a run through POST /agui/runs/:id/abort and ends on workflow_aborted", async () => {
    const feed = new Feed([frame(1, "step_started", { step: "a" })]);
    const reply: Reply = (seen) => {
      if (seen.path === "/agui") return feed.response();
      feed.push(frame(2, "workflow_aborted"));
      return json(202, { aborting: true });
    };
    await withServer(reply, async (base, seen) => {
      const r = recorder({ baseUrl: base, runId: "run-7" });
      const run = streamRun(r.opts);
      await r.until((e) => e.id === 1);
      const result = await run.abort();
      assert.equal(result.ok, true);
      assert.equal(result.status, 202);
      assert.equal(seen[1].method, "POST");
      assert.equal(seen[1].path, "/agui/runs/run-7/abort");
      const outcome = await run.done;
      assert.equal(outcome.end, "terminal");
      assert.equal(outcome.event?.type, "workflow_aborted");
    });
  });

  it("reports an action that gets no answer as status 0", async () => {
    const run = streamRun({
      ...recorder().opts,
      body: undefined,
      runId: "r",
      fetch: () => Promise.reject(new TypeError("offline")),
      maxRetries: 0,
    });
    assert.deepEqual(await run.abort(), {
      ok: false,
      status: 0,
      error: "network",
      message: "offline",
    });
    assert.equal((await run.done).event?.data.code, "connection_lost");
  });

  it("close() stops reading, cancels the body and settles done as closed", async () => {
    const feed = new Feed([frame(1, "step_started", { step: "a" })]);
    await withServer(script(() => feed.response()), async (base, seen) => {
      const r = recorder({ baseUrl: base });
      const run = streamRun(r.opts);
      await r.until((e) => e.id === 1);
      run.close();
      assert.deepEqual(await run.done, { end: "closed", lastEventId: 1 });
      await feed.cancelled;
      assert.equal(seen.length, 1);
      assert.equal(r.statuses.at(-1), "closed");
    });
  });

  it("keeps streaming when onEvent throws", async () => {
    const feed = new Feed([frame(1, "step_started", { step: "a" }), complete(2)]);
    await withServer(script(() => feed.response()), async (base) => {
      const seenIds: number[] = [];
      const r = recorder({ baseUrl: base });
      const run = streamRun({
        ...r.opts,
        onEvent: (e) => {
          seenIds.push(e.id);
          throw new Error("render bug");
        },
      });
      assert.equal((await run.done).end, "terminal");
      assert.deepEqual(seenIds, [1, 2]);
      assert.ok(r.logs.includes("[workflow] onEvent threw: render bug"));
    });
  });
});

describe("backoffDelay", () => {
  it("grows exponentially under the cap and scales by the jitter", () => {
    const half = () => 0.5;
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(n, 500, 10000, half)), [
      250,
      500,
      1000,
      2000,
    ]);
    assert.equal(backoffDelay(10, 500, 10000, half), 5000);
    assert.equal(backoffDelay(1, 500, 10000, () => 0), 0);
  });
});
