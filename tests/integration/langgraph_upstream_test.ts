/**
 * `WORKFLOW_SERVICE_PROTOCOL=langgraph` against a real LangGraph API server (`langgraphjs dev`
 * from `@langchain/langgraph-cli`, started once for the file) serving the graphs of
 * `tests/peers/graphs`: approval to completion, a rejection, a failing node, custom writes, an
 * abort, the AG-UI dialect through `@ag-ui/client`, graphs and health, and a cut upstream
 * connection that the module rejoins without loss.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HttpAgent } from "@ag-ui/client";
import { postJson, startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { readSse, type SseRead, types } from "../fixtures/sse_reader.ts";
import { type LangGraphServer, startLangGraph } from "../fixtures/langgraph_server.ts";
import { startTcpProxy } from "../fixtures/tcp_proxy.ts";
import { createLangGraphUpstream } from "../../lib/gateway/upstreams/langgraph.ts";
import { createFrameParser, type SseFrame } from "../../lib/sse/parse.ts";
import { parseSseStream } from "../../lib/sse/read_stream.ts";

const data = (r: SseRead, type: string) =>
  JSON.parse(r.frames.find((f) => f.event === type)!.data) as Record<string, unknown>;
const ended = (r: SseRead) =>
  ["workflow_complete", "workflow_error", "workflow_aborted"].includes(
    r.frames.at(-1)?.event ?? "",
  );

async function startRun(gw: TestGateway, graph: string, state: Record<string, unknown>) {
  const res = await postJson(`${gw.url}/agui`, { graph_name: graph, initial_state: state });
  if (res.status !== 200) assert.fail(`start answered ${res.status}: ${await res.text()}`);
  return { res, runId: res.headers.get("x-workflow-id")! };
}

async function eventsAfter(gw: TestGateway, runId: string, after: number) {
  const res = await fetch(`${gw.url}/agui/runs/${runId}/events`, {
    headers: { "last-event-id": String(after) },
  });
  return readSse(res, ended, 30_000);
}

describe("LangGraph server upstream", () => {
  let lg: LangGraphServer;
  let gw: TestGateway;
  before(async () => {
    lg = await startLangGraph();
    gw = await startGateway({
      WORKFLOW_SERVICE_PROTOCOL: "langgraph",
      WORKFLOW_SERVICE_URL: lg.url,
      HEARTBEAT_MS: "1000",
    });
  });
  after(async () => {
    await gw?.close();
    await lg?.close();
  });

  it("lists the server's graphs and reports it healthy", async () => {
    const graphs = await (await fetch(`${gw.url}/agui/graphs`)).json();
    const names = (graphs.graphs as { name: string }[]).map((g) => g.name).sort();
    assert.deepEqual(names, ["approval_flow", "custom_flow", "failing_flow"]);
    const health = await (await fetch(`${gw.url}/health`)).json();
    assert.equal(health.workflow_service.reachable, true);
  });

  it("runs a graph through its approval to workflow_complete", async () => {
    const { res, runId } = await startRun(gw, "approval_flow", { prompt: "suite" });
    const first = await readSse(res, (r) => r.frames.at(-1)?.event === "approval_required", 30_000);
    assert.deepEqual(types(first), [
      "workflow_initialized",
      "step_started",
      "step_completed",
      "step_started",
      "approval_required",
    ]);
    const init = data(first, "workflow_initialized");
    assert.equal(init.graph, "approval_flow");
    assert.equal(init.workflowId, runId);
    assert.deepEqual(init.input, { prompt: "suite" });
    assert.deepEqual((init.steps as { name: string }[]).map((s) => s.name), [
      "quote",
      "approval",
      "book",
    ]);
    assert.deepEqual(data(first, "step_completed").result, {
      offer: { item: "suite", price: 120 },
    });
    const gate = data(first, "approval_required");
    assert.equal(gate.stepId, "approval");
    assert.equal(gate.message, "Approve suite at $120?");
    assert.deepEqual(gate.options, ["approve", "reject"]);
    const summary = await (await fetch(`${gw.url}/agui/runs/${runId}`)).json();
    assert.equal(summary.run.status, "waiting_approval");

    const ok = await postJson(`${gw.url}/agui/runs/${runId}/approval`, {
      stepId: "approval",
      decision: "approve",
      comment: "fine",
    });
    assert.equal(ok.status, 202);
    const rest = await eventsAfter(gw, runId, first.frames.length);
    assert.deepEqual(types(rest), [
      "approval_resolved",
      "step_started",
      "step_completed",
      "step_started",
      "step_completed",
      "workflow_complete",
    ]);
    const done = data(rest, "workflow_complete");
    assert.equal(done.status, "success");
    const result = done.result as Record<string, unknown>;
    assert.equal(result.booked, true);
    // The value the graph's interrupt() returned: the decision as the module documents it.
    assert.deepEqual(result.answer, { decision: "approve", comment: "fine", stepId: "approval" });
  });

  it("a rejection completes the run as rejected", async () => {
    const { res, runId } = await startRun(gw, "approval_flow", { prompt: "loft" });
    await readSse(res, (r) => r.frames.at(-1)?.event === "approval_required", 30_000);
    const no = await postJson(`${gw.url}/agui/runs/${runId}/approval`, {
      stepId: "approval",
      decision: "reject",
    });
    assert.equal(no.status, 202);
    const rest = await eventsAfter(gw, runId, 5);
    const done = data(rest, "workflow_complete");
    assert.equal(done.status, "rejected");
    assert.equal((done.result as Record<string, unknown>).booked, false);
    const summary = await (await fetch(`${gw.url}/agui/runs/${runId}`)).json();
    assert.equal(summary.run.status, "rejected");
  });

  it("a failing node ends the run in workflow_error", async () => {
    const { res, runId } = await startRun(gw, "failing_flow", { prompt: "x" });
    const read = await readSse(res, ended, 30_000);
    assert.deepEqual(types(read), [
      "workflow_initialized",
      "step_started",
      "step_completed",
      "step_started",
      "workflow_error",
    ]);
    const err = data(read, "workflow_error");
    assert.equal(err.code, "step_failed");
    assert.equal(err.step, "charge");
    assert.equal(err.message, "card declined");
    const summary = await (await fetch(`${gw.url}/agui/runs/${runId}`)).json();
    assert.equal(summary.run.status, "error");
  });

  it("custom writes become progress events and artifacts", async () => {
    const { res } = await startRun(gw, "custom_flow", { count: 2 });
    const read = await readSse(res, ended, 30_000);
    assert.deepEqual(types(read), [
      "workflow_initialized",
      "step_started",
      "progress",
      "progress",
      "artifact",
      "step_completed",
      "workflow_complete",
    ]);
    const progress = read.frames.filter((f) => f.event === "progress").map((f) =>
      JSON.parse(f.data)
    );
    assert.deepEqual(progress.map((p) => [p.progress, p.message, p.step]), [
      [0.5, "item 1 of 2", "work"],
      [1, "item 2 of 2", "work"],
    ]);
    const doc = data(read, "artifact");
    assert.deepEqual([doc.name, doc.mime, doc.content], [
      "report",
      "application/json",
      { items: 2 },
    ]);
    assert.equal(data(read, "workflow_complete").status, "success");
  });

  it("an abort cancels the LangGraph run and ends it in workflow_aborted", async () => {
    const { res, runId } = await startRun(gw, "custom_flow", { count: 200, delay_ms: 50 });
    const read = await readSse(res, (r) => r.frames.some((f) => f.event === "progress"), 30_000);
    assert.ok(read.frames.some((f) => f.event === "progress"));
    const abort = await postJson(`${gw.url}/agui/runs/${runId}/abort`, {});
    assert.equal(abort.status, 202);
    const rest = await eventsAfter(gw, runId, 0);
    assert.equal(rest.frames.at(-1)?.event, "workflow_aborted");
    assert.ok(rest.frames.filter((f) => f.event === "progress").length < 200);
    const runs = await (await fetch(`${lg.url}/threads/${runId}/runs`)).json();
    assert.equal(runs[0].status, "interrupted", "LangGraph cancelled its run");
  });

  it("serves an AG-UI client through the interrupt and the resume", async () => {
    const agent = new HttpAgent({ url: `${gw.url}/agui`, threadId: crypto.randomUUID() });
    agent.messages.push({ id: "m1", role: "user", content: "penthouse" });
    await agent.runAgent({
      forwardedProps: { graph_name: "approval_flow", initial_state: { prompt: "penthouse" } },
    });
    const pending = agent.pendingInterrupts as { id: string; message?: string }[];
    assert.equal(pending.length, 1);
    assert.equal(pending[0].message, "Approve penthouse at $120?");
    await agent.runAgent({
      resume: [{
        interruptId: pending[0].id,
        status: "resolved",
        payload: { decision: "approve" },
      }],
    } as never);
    assert.deepEqual(agent.pendingInterrupts, []);
    const state = agent.state as { status?: string; steps?: Record<string, { status: string }> };
    assert.equal(state.status, "complete");
    assert.equal(state.steps?.book?.status, "done");
  });
});

describe("LangGraph rejoin after a cut upstream connection", () => {
  let lg: LangGraphServer;
  before(async () => {
    lg = await startLangGraph();
  });
  after(async () => {
    await lg?.close();
  });

  const collect = async (body: ReadableStream<Uint8Array>, frames: SseFrame[]) => {
    try {
      for await (const f of parseSseStream(body)) frames.push(f);
      return null;
    } catch (error) {
      return error;
    }
  };

  it("replays after the last upstream id without loss or repeat", async () => {
    const proxy = startTcpProxy(lg.port);
    const up = createLangGraphUpstream({ url: proxy.url, timeoutMs: 10_000, transport: "fetch" });
    const runId = `cut-${crypto.randomUUID()}`;
    try {
      const body = await up.execute({
        graph_name: "custom_flow",
        initial_state: { count: 30, delay_ms: 30 },
        thread_id: runId,
      });
      // One parser over the whole body: cut every connection of the proxy once a few
      // progress events came, then read on until the stream breaks.
      const seen: SseFrame[] = [];
      const parser = createFrameParser((f) => seen.push(f));
      const reader = body.getReader();
      let broke: unknown = null;
      let cut = false;
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (error) {
          broke = error;
          break;
        }
        assert.ok(!r.done, "the stream ended without breaking");
        parser.feed(r.value);
        if (!cut && seen.filter((f) => f.event === "progress").length >= 5) {
          cut = true;
          proxy.cutAll();
        }
      }
      assert.ok(broke, "the cut breaks the upstream stream");
      const lastId = seen.at(-1)!.id!;
      assert.ok(seen.every((f) => f.id !== undefined), "every frame has an upstream id");

      const again = await up.rejoin(runId, lastId);
      assert.equal(again.kind, "stream");
      const after: SseFrame[] = [];
      assert.equal(
        await collect((again as { body: ReadableStream<Uint8Array> }).body, after),
        null,
      );
      assert.ok(after.every((f) => up.isAfter(f.id!, lastId)), "only events after the cut");

      // The whole run, joined from its start, is exactly what the two halves together hold.
      const whole = await up.rejoin(runId, null);
      const all: SseFrame[] = [];
      assert.equal(await collect((whole as { body: ReadableStream<Uint8Array> }).body, all), null);
      const key = (f: SseFrame) => `${f.id} ${f.event}`;
      assert.deepEqual([...seen, ...after].map(key), all.map(key));
      assert.equal(all.filter((f) => f.event === "progress").length, 30);
      assert.equal(all.at(-1)!.event, "workflow_complete");
      assert.equal(all[0].event, "workflow_initialized");
      for (let i = 1; i < all.length; i++) assert.ok(up.isAfter(all[i].id!, all[i - 1].id!));
    } finally {
      await proxy.close();
    }
  });

  it("rejoins across a gate and a decision: same events, one terminal, no pause taken for an end", async () => {
    const up = createLangGraphUpstream({ url: lg.url, timeoutMs: 10_000 });
    const runId = `gate-${crypto.randomUUID()}`;
    const read = async (body: ReadableStream<Uint8Array>) => {
      const out: SseFrame[] = [];
      assert.equal(await collect(body, out), null);
      return out;
    };
    const start = await read(
      await up.execute({
        graph_name: "approval_flow",
        initial_state: { prompt: "x" },
        thread_id: runId,
      }),
    );
    assert.equal(start.at(-1)!.event, "approval_required");
    const gateId = start.at(-1)!.id!;
    // Joined after the gate, the paused run ends with no terminal (its status is `success`).
    const afterGate = await up.rejoin(runId, gateId);
    assert.deepEqual(await read((afterGate as { body: ReadableStream<Uint8Array> }).body), []);

    const decided = await read(
      await up.execute({
        graph_name: "approval_flow",
        initial_state: {},
        thread_id: runId,
        resume: { stepId: "approval", decision: "approve" },
      }),
    );
    assert.equal(decided.at(-1)!.event, "workflow_complete");
    const key = (f: SseFrame) => `${f.id} ${f.event}`;
    const whole = await up.rejoin(runId, null);
    assert.deepEqual(
      (await read((whole as { body: ReadableStream<Uint8Array> }).body)).map(key),
      [...start, ...decided].map(key),
    );
    const fromGate = await up.rejoin(runId, gateId);
    assert.deepEqual(
      (await read((fromGate as { body: ReadableStream<Uint8Array> }).body)).map(key),
      decided.map(key),
    );
  });

  it("through the gateway: a cut upstream connection is rejoined and the log misses nothing", async () => {
    const proxy = startTcpProxy(lg.port);
    const gw = await startGateway({
      WORKFLOW_SERVICE_PROTOCOL: "langgraph",
      WORKFLOW_SERVICE_URL: proxy.url,
      HEARTBEAT_MS: "1000",
    });
    try {
      const { res, runId } = await startRun(gw, "custom_flow", { count: 30, delay_ms: 30 });
      // Cut every connection to the LangGraph server once a few progress events are logged.
      await readSse(res, (r) => r.frames.filter((f) => f.event === "progress").length >= 5, 30_000);
      assert.ok(proxy.cutAll() > 0, "the relay's upstream connection was cut");
      const all = await eventsAfter(gw, runId, 0);
      const ids = all.frames.map((f) => Number(f.id));
      assert.deepEqual(ids, ids.map((_, i) => i + 1), "one unbroken sequence of log ids");
      const progress = all.frames.filter((f) => f.event === "progress")
        .map((f) => String(JSON.parse(f.data).message));
      assert.equal(progress.length, 30, "every progress event once");
      assert.equal(new Set(progress).size, 30, "no progress event twice");
      assert.deepEqual(types(all).filter((t) => t.startsWith("workflow_")), [
        "workflow_initialized",
        "workflow_complete",
      ]);
    } finally {
      await gw.close();
      await proxy.close();
    }
  });

  it("an unknown thread is unknown_thread", async () => {
    const up = createLangGraphUpstream({ url: lg.url, timeoutMs: 10_000 });
    const r = await up.rejoin(`never-${crypto.randomUUID()}`, null);
    assert.equal(r.kind, "unknown_thread");
  });
});
