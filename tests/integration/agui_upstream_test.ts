/**
 * `WORKFLOW_SERVICE_PROTOCOL=agui` against a real AG-UI server: `@ag-ui/langgraph`'s
 * `LangGraphAgent` served by the CopilotKit runtime (REST, `tests/peers/agui_server.mjs`) in
 * front of a real LangGraph dev server. Start, interrupt and resume in the workflow dialect and
 * through `@ag-ui/client` (the agent's own events passed on unchanged), a failing node, and an
 * upstream drop (AG-UI cannot rejoin).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HttpAgent } from "@ag-ui/client";
import { HttpAgent as HttpAgent0059 } from "@ag-ui/client-0.0.59";
import { postJson, startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { readSse, type SseRead, types } from "../fixtures/sse_reader.ts";
import {
  type AguiPeer,
  type LangGraphServer,
  startAguiPeer,
  startLangGraph,
} from "../fixtures/langgraph_server.ts";
import { startTcpProxy, type TcpProxy } from "../fixtures/tcp_proxy.ts";
import { createAguiUpstream } from "../../lib/gateway/upstreams/agui.ts";

const ended = (r: SseRead) =>
  ["workflow_complete", "workflow_error", "workflow_aborted"].includes(
    r.frames.at(-1)?.event ?? "",
  );
const data = (r: SseRead, type: string) =>
  JSON.parse(r.frames.findLast((f) => f.event === type)!.data) as Record<string, unknown>;

async function startRun(gw: TestGateway, graph: string, state: Record<string, unknown>) {
  const res = await postJson(`${gw.url}/agui`, { graph_name: graph, initial_state: state });
  if (res.status !== 200) assert.fail(`start answered ${res.status}: ${await res.text()}`);
  return { res, runId: res.headers.get("x-workflow-id")! };
}

/** The client versions: 1.0.0, and 0.0.59 (the one CopilotKit pins). */
const CLIENTS = [
  { name: "@ag-ui/client 1.0.0", make: (o: object) => new HttpAgent(o as never) },
  { name: "@ag-ui/client 0.0.59", make: (o: object) => new HttpAgent0059(o as never) },
];

describe("AG-UI agent upstream", () => {
  let lg: LangGraphServer;
  let peer: AguiPeer;
  let proxy: TcpProxy;
  let gw: TestGateway;
  before(async () => {
    lg = await startLangGraph();
    peer = await startAguiPeer(lg.url);
    proxy = startTcpProxy(Number(new URL(peer.url).port));
    gw = await startGateway({
      WORKFLOW_SERVICE_PROTOCOL: "agui",
      WORKFLOW_SERVICE_URL: `${proxy.url}/agent/{graph}/run`,
      HEARTBEAT_MS: "1000",
    });
  });
  after(async () => {
    await gw?.close();
    await proxy?.close();
    await peer?.close();
    await lg?.close();
  });

  it("lists the CopilotKit runtime's agents as graphs", async () => {
    const graphs = await (await fetch(`${gw.url}/agui/graphs`)).json();
    const names = (graphs.graphs as { name: string }[]).map((g) => g.name).sort();
    assert.deepEqual(names, ["approval_flow", "custom_flow", "failing_flow"]);
    const health = await (await fetch(`${gw.url}/health`)).json();
    assert.equal(health.workflow_service.reachable, true);
  });

  it("an abort closes the agent's stream and ends the run in workflow_aborted", async () => {
    const { res, runId } = await startRun(gw, "custom_flow", { count: 100, delay_ms: 50 });
    await readSse(res, (r) => r.frames.some((f) => f.event === "step_started"), 30_000);
    const abort = await postJson(`${gw.url}/agui/runs/${runId}/abort`, {});
    assert.equal(abort.status, 202);
    const rest = await readSse(
      await fetch(`${gw.url}/agui/runs/${runId}/events`, { headers: { "last-event-id": "0" } }),
      ended,
      30_000,
    );
    assert.equal(rest.frames.at(-1)!.event, "workflow_aborted");
    assert.equal(rest.frames.filter((f) => f.event === "workflow_aborted").length, 1);
  });

  it("runs through the agent's interrupt and a decision to workflow_complete", async () => {
    const { res, runId } = await startRun(gw, "approval_flow", { prompt: "suite" });
    const first = await readSse(res, (r) => r.frames.at(-1)?.event === "approval_required", 30_000);
    const t = types(first);
    assert.equal(t[0], "workflow_initialized");
    assert.equal(data(first, "workflow_initialized").graph, "approval_flow");
    assert.ok(t.includes("agui"), "AG-UI events without a workflow meaning are logged too");
    const started = first.frames.filter((f) => f.event === "step_started").map((f) =>
      JSON.parse(f.data).step
    );
    assert.deepEqual(started, ["quote", "approval"]);
    const gate = data(first, "approval_required");
    assert.match(String(gate.message), /^Approve .+ at \$120\?$/);
    assert.deepEqual(gate.options, ["approve", "reject"]);
    assert.equal(gate.step, "approval");
    // Every logged event keeps the agent's original event.
    for (const f of first.frames) {
      assert.equal(typeof (JSON.parse(f.data).agui as { type?: unknown })?.type, "string");
    }

    const ok = await postJson(`${gw.url}/agui/runs/${runId}/approval`, {
      stepId: gate.stepId,
      decision: "approve",
    });
    assert.equal(ok.status, 202);
    const rest = await readSse(
      await fetch(`${gw.url}/agui/runs/${runId}/events`, {
        headers: { "last-event-id": String(first.frames.length) },
      }),
      ended,
      30_000,
    );
    assert.equal(rest.frames[0].event, "approval_resolved");
    assert.equal(rest.frames.at(-1)!.event, "workflow_complete");
    const steps = rest.frames.filter((f) => f.event === "step_completed").map((f) =>
      JSON.parse(f.data).step
    );
    assert.ok(steps.includes("book"), `book ran after the approval: ${steps}`);
    // The agent's text message is the run's message, as the console shows it.
    const said = rest.frames.filter((f) => f.event === "message").map((f) => JSON.parse(f.data))
      .find((m) => m.text === "Booked suite.");
    assert.ok(said, `the agent's message was logged: ${types(rest)}`);
    assert.equal(said.role, "assistant");
    // The agent's graph received the decision as its interrupt's answer.
    const state = await (await fetch(`${lg.url}/threads/${runId}/state`)).json();
    assert.equal(state.values.booked, true);
    assert.equal(state.values.answer.decision, "approve");
  });

  it("a failing node is workflow_error", async () => {
    const { res } = await startRun(gw, "failing_flow", { prompt: "x" });
    const read = await readSse(res, ended, 30_000);
    const err = data(read, "workflow_error");
    assert.equal(err.message, "card declined");
  });

  for (const client of CLIENTS) {
    it(`serves ${client.name} the agent's own events, through interrupt and resume`, async () => {
      const threadId = crypto.randomUUID();
      const agent = client.make({ url: `${gw.url}/agui`, threadId });
      agent.messages.push({ id: "m1", role: "user", content: "suite" });
      const seen: { type: string; rawEvent?: unknown; threadId?: string }[] = [];
      const onEvent = ({ event }: { event: { type: string } }) => {
        seen.push(event);
      };
      await agent.runAgent({ forwardedProps: { graph_name: "approval_flow" } }, { onEvent });
      const pending = agent.pendingInterrupts as { id: string; message?: string }[];
      assert.equal(pending.length, 1);
      assert.match(String(pending[0].message), /^Approve .+ at \$120\?$/);
      assert.ok(seen.some((e) => e.type === "RAW"), "the agent's RAW events came through");
      const step = seen.find((e) => e.type === "STEP_STARTED") as
        | { rawEvent?: unknown }
        | undefined;
      assert.ok(step, "STEP_STARTED came through");
      assert.equal(seen[0].type, "RUN_STARTED");
      assert.equal(seen[0].threadId, threadId, "the run's lifecycle is the gateway's");

      seen.length = 0;
      await agent.runAgent({
        resume: [{
          interruptId: pending[0].id,
          status: "resolved",
          payload: { decision: "reject" },
        }],
      } as never, { onEvent });
      assert.deepEqual(agent.pendingInterrupts, []);
      assert.equal(seen.at(-1)!.type, "RUN_FINISHED");
      const text = seen.find((e) => e.type === "TEXT_MESSAGE_CONTENT") as { delta?: string };
      assert.equal(text?.delta, "Not booked: suite.", "the agent's text message came through");
      assert.ok(
        seen.some((e) =>
          e.type === "STEP_STARTED" && (e as { stepName?: string }).stepName === "book"
        ),
      );
    });
  }

  it("a dropped agent connection ends the run in an error (AG-UI cannot rejoin)", async () => {
    const up = createAguiUpstream({ url: `${peer.url}/agent/{graph}/run`, timeoutMs: 10_000 });
    assert.equal((await up.rejoin("any", null)).kind, "unsupported");

    const { res, runId } = await startRun(gw, "custom_flow", { count: 100, delay_ms: 50 });
    await readSse(res, (r) => r.frames.some((f) => f.event === "step_started"), 30_000);
    assert.ok(proxy.cutAll() > 0, "the gateway's connection to the agent was cut");
    const rest = await readSse(
      await fetch(`${gw.url}/agui/runs/${runId}/events`, { headers: { "last-event-id": "0" } }),
      ended,
      30_000,
    );
    const last = rest.frames.at(-1)!;
    assert.equal(last.event, "workflow_error");
    assert.ok(["upstream_error", "relay_lost"].includes(String(JSON.parse(last.data).code)));
  });
});
