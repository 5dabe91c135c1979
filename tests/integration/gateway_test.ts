/**
 * The /agui gateway against a scripted fake workflow service, both on real `Deno.serve` port 0:
 * the seed's request and event sequence, framing and headers, heartbeats (also while the
 * upstream is in the middle of a frame), malformed frames, every error status (a chunked body
 * too), upstream faults mid-stream and each logged once with the run id, disconnects and
 * `/health`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkEvent } from "../../lib/events.ts";
import { encodeEvent } from "../../lib/sse/encode.ts";
import {
  FAKE_GRAPHS,
  FAKE_TS,
  type FakeUpstream,
  startFakeUpstream,
} from "../fixtures/fake_upstream.ts";
import { postJson, relayToFake, startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { datas, readSse, types } from "../fixtures/sse_reader.ts";
import { within } from "../fixtures/within.ts";

const SEED_BODY = {
  graph_name: "hotel_o2c",
  initial_state: {
    prompt: "Test workflow",
    app_context: { appType: "hotel", currentPage: "test" },
  },
};

const TOKEN = "gateway-token-0123456789";

/** Every block of a stream is a whole frame, a whole comment or the retry block: no mix. */
function assertWholeBlocks(raw: string): void {
  for (const block of raw.split("\n\n").slice(0, -1)) {
    const lines = block.split("\n");
    const comment = lines.every((l) => l.startsWith(":"));
    const frame = lines.some((l) => l.startsWith("data: ")) &&
      !lines.some((l) => l.startsWith(":"));
    const retry = lines.every((l) => l.startsWith("retry:") || l.startsWith(":"));
    assert.ok(comment || frame || retry, `a mixed block: ${JSON.stringify(block)}`);
  }
}

describe("POST /agui (workflow dialect)", () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  relayToFake({
    fake: { token: "upstream-secret" },
    env: {
      WORKFLOW_SERVICE_TOKEN: "upstream-secret",
      HEARTBEAT_MS: "40",
      UPSTREAM_TIMEOUT_MS: "300",
    },
  }, (p) => ({ fake, gw } = p));

  it("relays the seed's run: frames, headers, pause at the approval gate, resume to the end", async () => {
    fake.setScript("hotel_split");
    const calls = fake.executeCalls.length;
    const res = await postJson(`${gw.url}/agui`, SEED_BODY);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache, no-transform");
    assert.equal(res.headers.get("x-accel-buffering"), "no");
    assert.equal(res.headers.get("content-encoding"), null);
    const runId = res.headers.get("x-workflow-id");
    assert.ok(runId);

    // Up to the gate, and then a heartbeat while the run waits (the stream stays open).
    let sawGate = false;
    const first = await readSse(res, (r) => {
      sawGate ||= r.frames.some((f) => f.event === "approval_required");
      return sawGate && r.raw.endsWith(": heartbeat\n\n");
    });
    assert.equal(first.ended, false, "a paused run keeps the client's stream open");
    // No comment or retry block of its own first: clients that dispatch every block (as
    // fetch-event-source does) get the first event as their first message.
    assert.ok(first.raw.startsWith("retry: 2000\nid: 1\n"), "retry rides on the first event");
    assert.deepEqual(first.retries, [2000]);
    assert.ok(!first.raw.includes("\r"), "LF only");
    assert.deepEqual(types(first), [
      "workflow_initialized",
      "step_started",
      "step_completed",
      "step_started",
      "step_completed",
      "step_started",
      "step_completed",
      "approval_required",
    ]);
    assert.deepEqual(first.frames.map((f) => f.id), ["1", "2", "3", "4", "5", "6", "7", "8"]);
    for (const f of first.frames) {
      assert.ok(checkEvent(f.event, f.data).ok, f.data);
      assert.equal(JSON.parse(f.data).workflowId, runId);
    }
    // The upstream saw the run id as its thread id, and our bearer token.
    assert.equal(fake.executeCalls.length, calls + 1);
    assert.equal(fake.executeCalls.at(-1)!.thread_id, runId);
    assert.equal(fake.requests.at(-1)!.authorization, "Bearer upstream-secret");

    const gate = JSON.parse(first.frames.at(-1)!.data);
    const ok = await postJson(`${gw.url}/agui/runs/${runId}/approval`, {
      stepId: gate.stepId,
      decision: "approve",
      comment: "fine",
    });
    assert.equal(ok.status, 202);
    await ok.body?.cancel();

    const rest = await readSse(
      await fetch(`${gw.url}/agui/runs/${runId}/events`, { headers: { "last-event-id": "8" } }),
    );
    assert.equal(rest.ended, true, "the stream ends after the terminal event");
    assert.equal(rest.frames[0].event, "approval_resolved");
    assert.equal(rest.frames[0].id, "9");
    assert.deepEqual(JSON.parse(rest.frames[0].data).comment, "fine");
    assert.equal(rest.frames.at(-1)!.event, "workflow_complete");
    assert.ok(types(rest).includes("artifact"));
    assert.equal(fake.executeCalls.at(-1)!.resume?.decision, "approve");
  });

  it("reads CRLF line ends and a BOM from the upstream", async () => {
    fake.setScript("hotel_crlf");
    const read = await readSse(
      await postJson(`${gw.url}/agui`, SEED_BODY),
      (r) => r.frames.some((f) => f.event === "approval_required"),
    );
    assert.equal(read.frames[0].event, "workflow_initialized");
    assert.equal(read.frames.at(-1)!.event, "approval_required");
  });

  it("skips malformed frames, drops upstream heartbeats and forwards unknown types", async () => {
    fake.setScript("malformed");
    const before = gw.services.metrics.malformedFrames.get();
    const read = await readSse(await postJson(`${gw.url}/agui`, SEED_BODY));
    assert.deepEqual(types(read), ["workflow_initialized", "custom_thing", "workflow_complete"]);
    assert.equal(gw.services.metrics.malformedFrames.get() - before, 3);
    assert.ok(
      gw.logs.some((l) => l.msg === "malformed upstream frame skipped" && l.run_id),
      "each skip is logged with the run id",
    );
  });

  it("ends in workflow_error when the upstream dies mid-stream or ends without a terminal", async () => {
    fake.setScript("broken");
    const broken = await readSse(await postJson(`${gw.url}/agui`, SEED_BODY));
    assert.deepEqual(types(broken), ["workflow_initialized", "workflow_error"]);
    assert.equal(datas(broken)[1].code, "upstream_error");

    fake.setScript("early_close");
    const early = await readSse(await postJson(`${gw.url}/agui`, SEED_BODY));
    assert.deepEqual(types(early), ["workflow_initialized", "step_started", "workflow_error"]);
    assert.equal(datas(early)[2].code, "upstream_ended");
    assert.ok(checkEvent("workflow_error", early.frames[2].data).ok);
  });

  it("logs each failure once, at error level, with the run id", async () => {
    for (const script of ["error500", "broken", "early_close", "html"] as const) {
      fake.setScript(script);
      const runId = `logged-once-${script}`;
      const res = await postJson(`${gw.url}/agui`, { ...SEED_BODY, run_id: runId });
      if (res.status === 200) await readSse(res);
      else await res.body?.cancel();
      // Every relay of this gateway has ended (the earlier runs ended or paused), so the log
      // holds all it will ever say about this run.
      await within(gw.services.gateway.drain(), 5_000, "relays drained");
      const errors = gw.logs.filter((l) => l.level === "error" && l.run_id === runId);
      assert.equal(errors.length, 1, `${script}: ${JSON.stringify(errors)}`);
    }
  });

  it("sends a heartbeat while the upstream is in the middle of a frame, never inside it", async () => {
    // One frame in three pieces, with pauses of more than 3× HEARTBEAT_MS (40) between them.
    let upstreamMidFrame = false;
    fake.setScript(async (w, ctx) => {
      const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
      w.frame("workflow_initialized", { ...base, graph: ctx.request.graph_name });
      const slow = encodeEvent({
        event: "step_started",
        data: JSON.stringify({ ...base, step: "slow_piece_by_piece" }),
      });
      const third = Math.ceil(slow.length / 3);
      upstreamMidFrame = true;
      w.raw(slow.slice(0, third));
      await w.pause(150);
      w.raw(slow.slice(third, 2 * third));
      await w.pause(150);
      upstreamMidFrame = false;
      w.raw(slow.slice(2 * third));
      w.frame("workflow_complete", { ...base, status: "complete", result: null });
    });
    let seenComments = 0;
    let heartbeatsMidFrame = 0;
    const read = await readSse(await postJson(`${gw.url}/agui`, SEED_BODY), (r) => {
      const fresh = r.comments.slice(seenComments).filter((c) => c === "heartbeat").length;
      seenComments = r.comments.length;
      if (upstreamMidFrame) heartbeatsMidFrame += fresh;
      return false;
    });
    assert.ok(heartbeatsMidFrame >= 1, `heartbeats while the frame was incomplete upstream`);
    assert.deepEqual(types(read), ["workflow_initialized", "step_started", "workflow_complete"]);
    assert.equal(datas(read)[1].step, "slow_piece_by_piece", "the frame arrived whole");
    assertWholeBlocks(read.raw);
  });

  it("sends heartbeats on an idle stream, only ever between frames", async () => {
    fake.setScript("idle");
    const res = await postJson(`${gw.url}/agui`, SEED_BODY);
    const runId = res.headers.get("x-workflow-id")!;
    const read = await readSse(res, (r) => r.comments.filter((c) => c === "heartbeat").length >= 3);
    assertWholeBlocks(read.raw);
    assert.ok(gw.services.metrics.sse.heartbeats >= 3);
    const abort = await postJson(`${gw.url}/agui/runs/${runId}/abort`, {});
    assert.equal(abort.status, 202);
    await abort.body?.cancel();
  });

  it("keeps reading the upstream after the client leaves; only abort stops it", async () => {
    fake.setScript("idle");
    const res = await postJson(`${gw.url}/agui`, SEED_BODY);
    const runId = res.headers.get("x-workflow-id")!;
    await readSse(res, (r) => r.frames.length >= 1); // cancels the client's body
    const cancelledBefore = fake.cancelled;
    // The relay still holds the upstream stream.
    assert.equal(gw.services.gateway.activeRelays >= 1, true);
    const abort = await postJson(`${gw.url}/agui/runs/${runId}/abort`, {});
    assert.equal(abort.status, 202);
    const body = await abort.json();
    assert.equal(body.run.status, "aborted");
    assert.ok(fake.abortCalls.includes(runId));
    await fake.waitFor((f) => f.cancelled > cancelledBefore || f.active === 0);
    const replay = await readSse(await fetch(`${gw.url}/agui/runs/${runId}/events`));
    assert.deepEqual(types(replay), ["workflow_initialized", "workflow_aborted"]);
  });

  it("answers bad input with JSON errors before streaming", async () => {
    const cases: [string, RequestInit, number, string][] = [
      [
        "bad json",
        { body: "{nope", headers: { "content-type": "application/json" } },
        400,
        "bad_json",
      ],
      [
        "bad graph name",
        { body: JSON.stringify({ graph_name: "Hotel!", initial_state: {} }) },
        400,
        "invalid_request",
      ],
      [
        "state not an object",
        { body: JSON.stringify({ graph_name: "hotel_o2c", initial_state: [1] }) },
        400,
        "invalid_request",
      ],
      [
        "wrong content type",
        { body: "x", headers: { "content-type": "text/plain" } },
        415,
        "unsupported_media_type",
      ],
      [
        "too big",
        {
          body: JSON.stringify({
            graph_name: "hotel_o2c",
            initial_state: { p: "x".repeat(70_000) },
          }),
        },
        413,
        "payload_too_large",
      ],
      [
        "unknown graph",
        { body: JSON.stringify({ graph_name: "no_such_graph", initial_state: {} }) },
        404,
        "unknown_graph",
      ],
    ];
    const calls = fake.executeCalls.length;
    for (const [name, init, status, code] of cases) {
      const res = await fetch(`${gw.url}/agui`, {
        method: "POST",
        headers: { "content-type": "application/json", ...init.headers as Record<string, string> },
        body: init.body,
      });
      assert.equal(res.status, status, name);
      assert.match(res.headers.get("content-type")!, /^application\/json/, name);
      const body = await res.json();
      assert.equal(body.error, code, name);
      assert.equal(typeof body.message, "string", name);
    }
    assert.equal(fake.executeCalls.length, calls, "no bad request reached the upstream");
    const wrongMethod = await fetch(`${gw.url}/agui`, { method: "PUT" });
    assert.equal(wrongMethod.status, 405);
    assert.match(wrongMethod.headers.get("allow") ?? "", /POST/);
    await wrongMethod.body?.cancel();
  });

  it("refuses a chunked body (no Content-Length) past MAX_BODY_BYTES with 413 while reading it", async () => {
    const calls = fake.executeCalls.length;
    // ~70 KB of a syntactically fine JSON body, streamed in pieces, so only the running count
    // of bytes read can refuse it (there is no declared length, and it would parse).
    const piece = new TextEncoder().encode("x".repeat(10_000));
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"graph_name":"hotel_o2c","initial_state":{"p":"'));
        for (let i = 0; i < 7; i++) c.enqueue(piece);
        c.enqueue(new TextEncoder().encode('"}}'));
        c.close();
      },
    });
    const res = await fetch(`${gw.url}/agui`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(res.status, 413);
    assert.match(res.headers.get("content-type")!, /^application\/json/);
    assert.equal((await res.json()).error, "payload_too_large");
    assert.equal(fake.executeCalls.length, calls, "nothing reached the upstream");
  });

  it("maps upstream faults before streaming to 502/504 JSON, and records them in the run", async () => {
    const cases: [string, number, string][] = [
      ["error500", 502, "upstream_status"],
      ["html", 502, "upstream_not_sse"],
      ["silent", 504, "upstream_timeout"],
      ["silent_body", 504, "upstream_timeout"],
    ];
    for (const [script, status, code] of cases) {
      fake.setScript(script as "html");
      const res = await postJson(`${gw.url}/agui`, SEED_BODY);
      assert.equal(res.status, status, script);
      const body = await res.json();
      assert.equal(body.error, code, script);
    }
    const list = await (await fetch(`${gw.url}/agui/runs?status=error&limit=4`)).json();
    assert.equal(list.runs.length, 4);
    assert.ok(list.runs.every((r: { error?: { code: string } }) => r.error?.code));
  });

  it("passes an upstream 404 (unknown graph the list did not know) through", async () => {
    fake.setGraphs([...FAKE_GRAPHS, { ...FAKE_GRAPHS[0], name: "ghost" }]);
    fake.setScript("unknown_graph");
    const res = await postJson(`${gw.url}/agui`, { graph_name: "ghost", initial_state: {} });
    // The graph list is cached; whichever answers, the client sees a 404 JSON error.
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error, "unknown_graph");
    fake.setGraphs(FAKE_GRAPHS);
  });
});

describe("gateway auth, unreachable upstream and /health", () => {
  it("requires the bearer token when GATEWAY_TOKEN is set", async () => {
    const fake = await startFakeUpstream({ script: "complete" });
    const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, GATEWAY_TOKEN: TOKEN });
    try {
      for (const auth of [undefined, "Bearer wrong-token-000000000", `Basic ${TOKEN}`]) {
        const res = await postJson(
          `${gw.url}/agui`,
          SEED_BODY,
          auth ? { authorization: auth } : {},
        );
        assert.equal(res.status, 401);
        assert.equal((await res.json()).error, "unauthorized");
      }
      const list = await fetch(`${gw.url}/agui/runs`);
      assert.equal(list.status, 401);
      await list.body?.cancel();
      const ok = await postJson(`${gw.url}/agui`, SEED_BODY, { authorization: `Bearer ${TOKEN}` });
      assert.equal(ok.status, 200);
      assert.equal(types(await readSse(ok)).at(-1), "workflow_complete");
      // /health stays public.
      const health = await fetch(`${gw.url}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
    } finally {
      await gw.close();
      await fake.close();
    }
  });

  it("answers 502 when the workflow service is unreachable, and /health says 503", async () => {
    const fake = await startFakeUpstream();
    const url = fake.url;
    await fake.close(); // nothing listens there any more
    const gw = await startGateway({
      WORKFLOW_SERVICE_URL: `http://user:pw@${url.slice("http://".length)}`,
      UPSTREAM_TIMEOUT_MS: "500",
    });
    try {
      const res = await postJson(`${gw.url}/agui`, SEED_BODY);
      assert.equal(res.status, 502);
      assert.equal((await res.json()).error, "upstream_unreachable");
      const health = await fetch(`${gw.url}/health`);
      assert.equal(health.status, 503);
      const body = await health.json();
      assert.equal(body.status, "degraded");
      assert.equal(body.workflow_service.reachable, false);
      assert.equal(body.workflow_service.mode, "external");
      assert.ok(!body.workflow_service.url.includes("pw"), "credentials stripped");
    } finally {
      await gw.close();
    }
  });

  it("reports a reachable upstream in /health", async () => {
    const fake = await startFakeUpstream();
    const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url });
    try {
      const res = await fetch(`${gw.url}/health`);
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.status, "ok");
      assert.equal(body.workflow_service.reachable, true);
      assert.equal(typeof body.workflow_service.latency_ms, "number");
      assert.equal(body.active_streams, 0);
      assert.equal(typeof body.version, "string");
      fake.setHealth(false);
      const down = await fetch(`${gw.url}/health`);
      assert.equal(down.status, 503);
      await down.body?.cancel();
    } finally {
      await gw.close();
      await fake.close();
    }
  });
});
