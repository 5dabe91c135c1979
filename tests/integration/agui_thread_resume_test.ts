/**
 * AG-UI resumes that address the thread rather than the run: the real `HttpAgent` of
 * `@ag-ui/client` 1.0.0 and 0.0.59 sends a legacy `forwardedProps.command.resume` with a fresh
 * runId (as `@ag-ui/langgraph`-era clients and CopilotKit's legacy interrupt path do), and a
 * 1.0 `resume` entry whose interrupt id is the bare step id. When the thread has exactly one run
 * waiting on a gate, that run is resumed; two waiting runs are a 409 naming both; none is a 404.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HttpAgent as HttpAgent10 } from "@ag-ui/client";
import { HttpAgent as HttpAgent0059 } from "@ag-ui/client-0.0.59";
import { postJson, startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { readSse } from "../fixtures/sse_reader.ts";
import { within } from "../fixtures/within.ts";

const PROMPT = "Create a hotel reservation for John Doe";

interface AgentUnderTest {
  state: Record<string, unknown>;
  pendingInterrupts: { id: string }[];
  runAgent(params: Record<string, unknown>): Promise<unknown>;
}

const CLIENTS = [
  { name: "@ag-ui/client 1.0.0", make: (o: object) => new HttpAgent10(o as never) },
  { name: "@ag-ui/client 0.0.59", make: (o: object) => new HttpAgent0059(o as never) },
];

/** Starts an AG-UI run in `threadId` and reads it to its interrupt. */
async function runToGate(gw: TestGateway, threadId: string): Promise<string> {
  const runId = crypto.randomUUID();
  const res = await postJson(`${gw.url}/agui`, {
    threadId,
    runId,
    messages: [{ id: "m1", role: "user", content: PROMPT }],
    forwardedProps: { graph_name: "hotel_o2c" },
  });
  assert.equal(res.status, 200);
  const read = await readSse(res, undefined, 10_000);
  assert.match(read.frames.at(-1)!.data, /"interrupt"/);
  return runId;
}

async function status(gw: TestGateway, runId: string): Promise<string> {
  return (await (await fetch(`${gw.url}/agui/runs/${runId}`)).json()).run.status;
}

describe("AG-UI resume by thread", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ HEARTBEAT_MS: "1000" });
  });
  after(() => gw.close());

  for (const client of CLIENTS) {
    it(`${client.name}: a legacy resume with a new runId resumes the thread's waiting run`, async () => {
      const threadId = `thread-${crypto.randomUUID()}`;
      const runId = await runToGate(gw, threadId);
      const agent = client.make({ url: `${gw.url}/agui`, threadId }) as unknown as AgentUnderTest;
      // No runId given: the agent makes a fresh one, which names no run in the gateway.
      await within(
        agent.runAgent({ forwardedProps: { command: { resume: { decision: "approve" } } } }),
        10_000,
        "the legacy resume",
      );
      assert.equal(agent.state.status, "complete");
      assert.deepEqual(agent.pendingInterrupts, []);
      assert.equal(await status(gw, runId), "complete");
    });
  }

  it("a 1.0 resume entry naming the bare step resumes the thread's waiting run", async () => {
    const threadId = `thread-${crypto.randomUUID()}`;
    const runId = await runToGate(gw, threadId);
    const agent = new HttpAgent10({ url: `${gw.url}/agui`, threadId });
    await within(
      agent.runAgent({
        resume: [{
          interruptId: "manager_approval",
          status: "resolved",
          payload: { decision: "reject" },
        }],
      }),
      10_000,
      "the resume",
    );
    assert.equal(await status(gw, runId), "rejected");
  });

  it("two runs waiting in one thread: 409 naming both; none waiting: 404", async () => {
    const threadId = `thread-${crypto.randomUUID()}`;
    const a = await runToGate(gw, threadId);
    const b = await runToGate(gw, threadId);
    const legacy = {
      threadId,
      runId: crypto.randomUUID(),
      messages: [],
      forwardedProps: { command: { resume: { decision: "approve" } } },
    };
    const res = await postJson(`${gw.url}/agui`, legacy);
    assert.equal(res.status, 409);
    const body = await res.json();
    assert.equal(body.error, "ambiguous_resume");
    assert.deepEqual([...body.details.runs].sort(), [a, b].sort());
    assert.ok(body.message.includes(a) && body.message.includes(b), body.message);
    assert.equal(await status(gw, a), "waiting_approval");
    assert.equal(await status(gw, b), "waiting_approval");
    assert.equal(gw.services.streams.reserved, 0, "a refused request gives its stream slot back");

    // One decided: the other is the thread's only waiting run.
    const approve = await fetch(`${gw.url}/agui/runs/${a}/approval`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ stepId: "manager_approval", decision: "approve" }),
    });
    assert.equal(approve.status, 202);
    await approve.body?.cancel();
    const one = await postJson(`${gw.url}/agui`, legacy);
    assert.equal(one.status, 200);
    await readSse(one, undefined, 10_000);
    assert.equal(await status(gw, b), "complete");

    const none = await postJson(`${gw.url}/agui`, { ...legacy, runId: crypto.randomUUID() });
    assert.equal(none.status, 404);
    assert.equal((await none.json()).error, "run_not_found");
  });
});
