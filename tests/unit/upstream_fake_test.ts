/** Self-tests of the fake workflow service fixture, so gateway tests can trust it. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ExecuteRequest } from "../../lib/events.ts";
import { type SseFrame } from "../../lib/sse/parse.ts";
import { parseSseStream } from "../../lib/sse/read_stream.ts";
import {
  frames,
  hotelEvents,
  type Script,
  type ScriptContext,
  sequence,
  splitFrames,
  startFakeUpstream,
  type Writer,
} from "../fixtures/fake_upstream.ts";

const REQ: ExecuteRequest = { graph_name: "hotel_o2c", initial_state: {}, thread_id: "t1" };

async function execute(url: string, body: ExecuteRequest = REQ) {
  const res = await fetch(`${url}/execute`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return res;
}

async function framesOf(res: Response): Promise<SseFrame[]> {
  const out: SseFrame[] = [];
  for await (const f of parseSseStream(res.body!)) out.push(f);
  return out;
}

/** A writer that records calls, for testing script combinators without a server. */
function recorder(): { w: Writer; log: string[] } {
  const log: string[] = [];
  const w: Writer = {
    status: () => w,
    header: () => w,
    sendHeaders: () => void log.push("headers"),
    frame: (type) => void log.push(`frame:${type}`),
    raw: (chunk) => void log.push(`raw:${chunk}`),
    comment: (text) => void log.push(`comment:${text}`),
    pause: (ms) => (log.push(`pause:${ms}`), Promise.resolve()),
    idle: () => Promise.resolve(),
    close: () => void log.push("close"),
    fail: () => void log.push("fail"),
    json: () => void log.push("json"),
    text: () => void log.push("text"),
    cancelled: false,
    aborted: false,
  };
  return { w, log };
}

const CTX: ScriptContext = { request: REQ, call: 0, headers: new Headers() };

describe("fake upstream", () => {
  it("hotel: pauses at approval, resume completes with an invoice", async () => {
    const fake = await startFakeUpstream();
    try {
      const first = await framesOf(await execute(fake.url));
      assert.deepEqual(first.map((f) => f.event), [
        "workflow_initialized",
        ...Array(3).fill(["step_started", "step_completed"]).flat(),
        "approval_required",
      ]);
      const resume = { ...REQ, resume: { stepId: "approve_quote", decision: "approve" as const } };
      const second = await framesOf(await execute(fake.url, resume));
      assert.equal(second[0].event, "approval_resolved");
      assert.ok(
        second.some((f) => f.event === "artifact" && JSON.parse(f.data).name === "invoice"),
      );
      assert.equal(second.at(-1)!.event, "workflow_complete");
      assert.equal(fake.executeCalls.length, 2);
      const reject = { ...REQ, resume: { stepId: "approve_quote", decision: "reject" as const } };
      assert.equal(hotelEvents(reject).at(-1)![1].status, "rejected");
    } finally {
      await fake.close();
    }
  });

  it("hotel_crlf and hotel_split parse to the same frames as hotel", async () => {
    const fake = await startFakeUpstream();
    try {
      const expected = await framesOf(await execute(fake.url));
      fake.setScript("hotel_crlf");
      assert.deepEqual(await framesOf(await execute(fake.url)), expected);
      fake.setScript("hotel_split");
      assert.deepEqual(await framesOf(await execute(fake.url)), expected);
    } finally {
      await fake.close();
    }
  });

  it("malformed and early_close scripts send what they say", async () => {
    const fake = await startFakeUpstream({ script: "malformed" });
    try {
      const bad = await framesOf(await execute(fake.url));
      assert.deepEqual(bad.map((f) => f.event), [
        "workflow_initialized",
        "step_started",
        "step_started",
        "step_started",
        "heartbeat",
        "custom_thing",
        "workflow_complete",
      ]);
      assert.equal(bad[1].data, "{not json");
      fake.setScript("early_close");
      const early = await framesOf(await execute(fake.url));
      assert.deepEqual(early.map((f) => f.event), ["workflow_initialized", "step_started"]);
    } finally {
      await fake.close();
    }
  });

  it("splitFrames writes each frame in pieces, in order with other writes", async () => {
    const inner: Script = async (w) => {
      w.frame("a", { x: 1 });
      w.comment("c");
      await w.pause(5);
      w.frame("b", "0123456789");
    };
    const { w, log } = recorder();
    await splitFrames(inner, 3, 1)(w, CTX);
    const shape = log.filter((l) => l !== "pause:1").map((l) => l.startsWith("raw:") ? "raw" : l);
    // Frame a in three pieces, then the comment, the script's pause, frame b in three pieces.
    assert.deepEqual(shape, ["raw", "raw", "raw", "comment:c", "pause:5", "raw", "raw", "raw"]);
    const raws = log.filter((l) => l.startsWith("raw:")).map((l) => l.slice(4));
    assert.equal(raws.join(""), 'event: a\ndata: {"x":1}\n\nevent: b\ndata: 0123456789\n\n');
  });

  it("sequence runs scripts in order; frames() takes a list", async () => {
    const { w, log } = recorder();
    await sequence(frames([["a", {}]]), (w2) => w2.comment("x"), frames([["b", {}]]))(w, CTX);
    assert.deepEqual(log, ["frame:a", "comment:x", "frame:b"]);
  });

  it("records auth, answers 401 without it, serves /health and /graphs", async () => {
    const fake = await startFakeUpstream({ token: "secret" });
    try {
      const denied = await fetch(`${fake.url}/graphs`);
      assert.equal(denied.status, 401);
      await denied.body?.cancel();
      const auth = { authorization: "Bearer secret" };
      const graphs = await fetch(`${fake.url}/graphs`, { headers: auth });
      assert.equal((await graphs.json()).graphs[0].name, "hotel_o2c");
      fake.setHealth(false);
      const health = await fetch(`${fake.url}/health`, { headers: auth });
      assert.equal(health.status, 503);
      await health.body?.cancel();
      assert.equal(fake.requests[1].authorization, "Bearer secret");
    } finally {
      await fake.close();
    }
  });

  it("close() ends idle and unanswered responses; waitFor times out", async () => {
    const fake = await startFakeUpstream({ script: "idle" });
    const res = await execute(fake.url);
    const reader = res.body!.getReader();
    await reader.read();
    fake.setScript("silent");
    const pending = execute(fake.url);
    await fake.waitFor((f) => f.active === 2);
    await assert.rejects(fake.waitFor(() => false, 20), /not met/);
    await fake.close();
    while (!(await reader.read()).done) { /* drain to the end */ }
    const late = await pending;
    assert.equal(late.status, 503);
    await late.body?.cancel();
  });
});
