import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  approvalText,
  createLangGraphMapper,
  formatId,
  isAfterId,
  parseId,
  threadIdOf,
} from "../../lib/gateway/upstreams/langgraph_map.ts";
import { createAguiMapper } from "../../lib/gateway/upstreams/agui_map.ts";
import { createProtocolUpstream } from "../../lib/gateway/upstreams/mod.ts";
import { createAguiTranslator } from "../../lib/gateway/dialects/agui.ts";
import { loadConfig } from "../../lib/config.ts";
import { describeEvent } from "../../lib/console/format.ts";

describe("LangGraph mapping", () => {
  it("reads an interrupt's message and options from any value shape", () => {
    assert.deepEqual(approvalText("Ship it?"), {
      message: "Ship it?",
      options: ["approve", "reject"],
    });
    assert.deepEqual(approvalText({ question: "Pay?", choices: ["approve", "reject", 3] }), {
      message: "Pay?",
      options: ["approve", "reject"],
    });
    assert.equal(approvalText({ description: "Book?" }).message, "Book?");
    assert.equal(approvalText({ message: "M", question: "Q" }).message, "M");
    assert.equal(approvalText({ amount: 3 }).message, '{"amount":3}');
    assert.equal(approvalText([1, 2]).message, "[1,2]");
    assert.equal(approvalText(null).message, "null");
  });

  it("orders ids by run, then event, then place", () => {
    const a = formatId({ run: "01a2-0001", event: 5, n: 0 });
    assert.deepEqual(parseId(a), { run: "01a2-0001", event: 5, n: 0 });
    assert.ok(isAfterId("01a2-0001:6:0", a));
    assert.ok(isAfterId("01a2-0001:5:1", a));
    assert.ok(isAfterId("01a2-0002:0:0", "01a2-0001:99:99"));
    assert.ok(!isAfterId(a, a));
    assert.ok(!isAfterId("01a2-0001:4:9", a));
    assert.ok(!isAfterId("garbage", a));
    assert.ok(isAfterId("r:0:0", "r:-1:0"));
  });

  it("derives one UUID thread id per run id (v5), keeping UUID run ids", async () => {
    const uuid = crypto.randomUUID();
    assert.equal(await threadIdOf(uuid), uuid);
    const t = await threadIdOf("my-run_1");
    assert.match(t, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(await threadIdOf("my-run_1"), t);
    assert.notEqual(await threadIdOf("my-run_2"), t);
  });

  it("maps tasks, interrupts, custom writes and the close", () => {
    const m = createLangGraphMapper({
      workflowId: "w1",
      initialized: { graph: "g", workflowId: "w1", ts: "t" },
      now: () => 0,
    });
    const frame = (id: number, event: string, data: unknown) =>
      m.frame({ id: String(id), event, data: JSON.stringify(data) });
    assert.deepEqual(frame(0, "metadata", { run_id: "R" }).map((e) => [e.id, e.type]), [
      ["R:0:0", "workflow_initialized"],
    ]);
    assert.deepEqual(frame(1, "tasks", { id: "t1", name: "a", input: {} })[0].data.step, "a");
    assert.equal(frame(2, "custom", { progress: 0.5 })[0].type, "progress");
    assert.equal(frame(3, "custom", { name: "doc", content: 1 })[0].type, "artifact");
    assert.deepEqual(frame(4, "tasks", { id: "t1", name: "a", result: { x: 1 } })[0].data.result, {
      x: 1,
    });
    frame(5, "tasks", { id: "t2", name: "gate", input: {} });
    const [gate] = frame(6, "updates", { __interrupt__: [{ id: "i1", value: "OK?" }] });
    assert.deepEqual([gate.type, gate.data.stepId, gate.data.message], [
      "approval_required",
      "gate",
      "OK?",
    ]);
    // The interrupted task's result is no completion; the close after a gate is a pause.
    assert.deepEqual(
      frame(7, "tasks", { id: "t2", name: "gate", result: {}, interrupts: [{}] }),
      [],
    );
    assert.equal(m.needsStatus, false);
    assert.deepEqual(m.end({ status: "success" }, {}), []);
  });

  it("ends a run from its status: success, rejected, cancelled, error, still running", () => {
    const end = (status: string, resume?: unknown) => {
      const m = createLangGraphMapper({ workflowId: "w", runId: "R", now: () => 0 });
      return m.end({ status, kwargs: { command: resume ? { resume } : null } }, { v: 1 });
    };
    const ok = end("success")!;
    assert.deepEqual([ok[0].type, ok[0].data.status, ok[0].data.result], [
      "workflow_complete",
      "success",
      { v: 1 },
    ]);
    assert.equal(end("success", { decision: "reject" })![0].data.status, "rejected");
    assert.equal(end("interrupted")![0].type, "workflow_aborted");
    assert.equal(end("cancelled")![0].type, "workflow_aborted");
    assert.equal(end("error")![0].type, "workflow_error");
    assert.equal(end("running"), null);
    // A join that starts after a gate's frames: `success` is the pause, not the end.
    const m = createLangGraphMapper({ workflowId: "w", runId: "R", now: () => 0 });
    assert.deepEqual(m.end({ status: "success" }, {}, true), []);
    assert.equal(m.end({ status: "cancelled" }, {}, true)![0].type, "workflow_aborted");
  });
});

describe("AG-UI mapping and pass-through", () => {
  const frames = [
    { type: "RUN_STARTED", threadId: "up", runId: "up-run" },
    { type: "STEP_STARTED", stepName: "ask" },
    { type: "RAW", event: { any: "thing" } },
    { type: "STEP_FINISHED", stepName: "ask" },
    { type: "CUSTOM", name: "on_interrupt", value: '{"message":"Go?"}', rawEvent: { id: "int-1" } },
    { type: "RUN_FINISHED", threadId: "up", runId: "other" },
  ];

  it("logs every event once with its original, folding an interrupt into approval_required", () => {
    const m = createAguiMapper({
      workflowId: "w",
      graph: "g",
      input: { prompt: "p" },
      idPrefix: "1",
      now: () => 0,
    });
    const out = frames.flatMap((f) => m.frame({ event: "message", data: JSON.stringify(f) }));
    assert.deepEqual(out.map((e) => e.type), [
      "workflow_initialized",
      "step_started",
      "agui",
      "step_completed",
      "agui",
      "approval_required",
    ]);
    assert.deepEqual(
      out.map((e) => (e.data.agui as { type: string }).type),
      frames.map((f) => f.type),
    );
    const gate = out.at(-1)!.data;
    assert.deepEqual([gate.stepId, gate.message, gate.step], ["int-1", "Go?", "ask"]);
    assert.deepEqual(m.end(), []);
  });

  it("RUN_ERROR is workflow_error; a stream without an end is upstream_ended", () => {
    const m = createAguiMapper({ workflowId: "w", graph: "g", idPrefix: "1" });
    const [err] = m.frame({
      event: "message",
      data: JSON.stringify({ type: "RUN_ERROR", message: "boom", code: "x" }),
    });
    assert.deepEqual([err.type, err.data.code, err.data.message], ["workflow_error", "x", "boom"]);
    const open = createAguiMapper({ workflowId: "w", graph: "g", idPrefix: "1" });
    assert.equal(open.end()[0].data.code, "upstream_ended");
  });

  it("the AG-UI dialect sends the agent's events unchanged and its own lifecycle", () => {
    const m = createAguiMapper({ workflowId: "w", graph: "g", input: {}, idPrefix: "1" });
    const logged = frames.flatMap((f) => m.frame({ event: "message", data: JSON.stringify(f) }))
      .map((e, i) => ({ seq: i + 1, type: e.type, data: JSON.stringify(e.data) }));
    const tr = createAguiTranslator({ threadId: "client-thread", runId: "client-run" });
    const out = logged.flatMap((e) => tr.push(e));
    const types = out.map((e) => e.type);
    assert.equal(types[0], "RUN_STARTED");
    assert.equal((out[0] as { threadId: string }).threadId, "client-thread");
    assert.ok(!types.includes("STATE_DELTA"), "no deltas of the gateway's own state");
    assert.deepEqual(out.find((e) => (e.type as string) === "RAW"), frames[2]);
    assert.deepEqual(out.find((e) => e.type === "STEP_STARTED"), frames[1]);
    assert.equal(types.filter((t) => t === "RUN_STARTED").length, 1);
    const fin = out.at(-1) as { type: string; runId: string; outcome?: { type: string } };
    assert.deepEqual([fin.type, fin.runId, fin.outcome?.type], [
      "RUN_FINISHED",
      "client-run",
      "interrupt",
    ]);
  });
});

describe("console rows of AG-UI upstream events", () => {
  const row = (type: string, data: Record<string, unknown>) =>
    describeEvent({ type, data: { workflowId: "w", ts: "t", ...data } } as never, (s) => s);
  it("shows a text message as the run's message, and names other AG-UI events", () => {
    assert.equal(row("message", { role: "assistant", text: "Booked." }), "assistant: Booked.");
    assert.equal(row("agui", { agui: { type: "RAW", event: {} } }), "AG-UI RAW");
    assert.equal(row("progress", { progress: 0.5 }), '{"progress":0.5}');
  });
});

describe("protocol choice", () => {
  it("needs a URL for langgraph and agui", () => {
    assert.throws(
      () => loadConfig({ WORKFLOW_SERVICE_PROTOCOL: "langgraph" }),
      /WORKFLOW_SERVICE_PROTOCOL.*WORKFLOW_SERVICE_URL/,
    );
    assert.throws(() => loadConfig({ WORKFLOW_SERVICE_PROTOCOL: "grpc" }), /one of execute/);
    const c = loadConfig({
      WORKFLOW_SERVICE_PROTOCOL: "agui",
      WORKFLOW_SERVICE_URL: "http://127.0.0.1:1/agent/{graph}/run",
    });
    assert.equal(c.WORKFLOW_SERVICE_PROTOCOL, "agui");
    assert.equal(loadConfig({}).WORKFLOW_SERVICE_PROTOCOL, "execute");
  });

  it("sends the token as x-api-key to LangGraph and as a bearer to AG-UI agents", async () => {
    const seen: Headers[] = [];
    const fetch = (input: Request | URL | string, init?: RequestInit) => {
      seen.push(new Headers(init?.headers ?? (input as Request).headers));
      return Promise.resolve(
        new Response("[]", { headers: { "content-type": "application/json" } }),
      );
    };
    const lg = createProtocolUpstream({
      protocol: "langgraph",
      url: "http://lg.test",
      token: "k1",
      timeoutMs: 1000,
      fetch,
    });
    await lg.graphs();
    assert.equal(seen[0].get("x-api-key"), "k1");
    assert.equal(seen[0].get("authorization"), null);
    assert.equal(lg.protocol, "langgraph");
    const ag = createProtocolUpstream({
      protocol: "agui",
      url: "http://ag.test/agent",
      token: "k2",
      timeoutMs: 1000,
      fetch,
    });
    await ag.health();
    assert.equal(seen[1].get("authorization"), "Bearer k2");
    assert.equal((await ag.rejoin("t", null)).kind, "unsupported");
  });
});
