/**
 * The real CopilotKit (`@copilotkit/runtime` and `@copilotkit/core` 1.75.0, pinned in
 * tests/peers) in front of the gateway, with the example's runtime server
 * (`examples/copilotkit/server.cjs`) and its gateway runner: each client invocation is a fresh
 * `CopilotKitCore`, as a page load is.
 *
 * - run → interrupt → the runtime restarts → a reconnect shows the gate (from the gateway's log:
 *   the new runtime has no memory of the thread) → resume → the run completes;
 * - Stop mid-run → the run goes on in the gateway → a reconnect shows it at its gate → a reject
 *   from the reconnected page completes it.
 */
import assert from "node:assert/strict";
import { startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { ignorePeers, type NodeServer, runNode, startNodeServer } from "../fixtures/node_peer.ts";

const CLIENT = "tests/peers/copilotkit_client.cjs";
const PROMPT = "Create a hotel reservation for John Doe";

interface ClientOut {
  events: string[];
  pending: { id: string; message: string }[];
  state: { status?: string; runId?: string };
}

async function client(args: string[]): Promise<ClientOut> {
  const out = await runNode(CLIENT, args, 40_000);
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

function runtime(gw: TestGateway): Promise<NodeServer> {
  return startNodeServer(
    "examples/copilotkit/server.cjs",
    { GATEWAY_URL: gw.url, PORT: "0" },
    "copilotkit runtime listening",
  );
}

async function threadRuns(gw: TestGateway, threadId: string) {
  const res = await fetch(
    `${gw.url}/agui/runs?thread=${encodeURIComponent(threadId)}`,
  );
  assert.equal(res.status, 200);
  return (await res.json()).runs as {
    id: string;
    status: string;
    eventCount: number;
  }[];
}

async function runWhen(gw: TestGateway, threadId: string, status: string) {
  for (let i = 0; i < 400; i++) {
    const [run] = await threadRuns(gw, threadId);
    if (run?.status === status) return run;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the thread's run never reached ${status}`);
}

Deno.test({
  name:
    "CopilotKit: run → interrupt → runtime restart → reconnect shows the gate → resume → complete",
  ignore: ignorePeers(),
  async fn() {
    const gw = await startGateway({ HEARTBEAT_MS: "500" });
    let rt = await runtime(gw);
    try {
      // The example's page is served beside the runtime.
      const page = await fetch(`${rt.url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /\/api\/copilotkit\/agent\/workflows/);
      const threadId = crypto.randomUUID();
      const first = await client([
        "run",
        `${rt.url}/api/copilotkit`,
        threadId,
        "hotel_o2c",
        PROMPT,
      ]);
      assert.equal(
        first.pending.length,
        1,
        "the run stopped at its approval gate",
      );
      assert.match(first.pending[0].message, /John Doe/);
      const [run] = await threadRuns(gw, threadId);
      assert.equal(run.status, "waiting_approval");

      // The runtime restarts: whatever it held in memory is gone.
      await rt.stop();
      rt = await runtime(gw);
      const url = `${rt.url}/api/copilotkit`;
      const again = await client(["connect", url, threadId]);
      assert.deepEqual(
        again.pending.map((p) => p.id),
        first.pending.map((p) => p.id),
      );
      assert.equal(again.state.status, "waiting_approval");
      assert.equal(again.events.at(-1), "RUN_FINISHED");

      const resumed = await client(["resume", url, threadId, "approve"]);
      assert.deepEqual(resumed.pending, []);
      assert.equal(resumed.state.status, "complete");
      assert.equal((await threadRuns(gw, threadId))[0].status, "complete");
    } finally {
      await rt.stop();
      await gw.close();
    }
  },
});

Deno.test({
  name:
    "CopilotKit: Stop leaves the run going in the gateway; a reconnect shows it; a resume completes it",
  ignore: ignorePeers(),
  async fn() {
    // Slow steps, so Stop lands mid-run.
    const gw = await startGateway({
      HEARTBEAT_MS: "500",
      WORKFLOW_STEP_DELAY_MS: "250",
    });
    const rt = await runtime(gw);
    try {
      const url = `${rt.url}/api/copilotkit`;
      const threadId = crypto.randomUUID();
      const stopped = await client([
        "stop",
        url,
        threadId,
        "hotel_o2c",
        PROMPT,
      ]);
      assert.deepEqual(
        stopped.pending,
        [],
        "the client stopped before the gate",
      );
      assert.ok(!stopped.events.includes("RUN_FINISHED"));
      // The workflow went on without the client and reached its gate.
      const run = await runWhen(gw, threadId, "waiting_approval");
      assert.ok(
        run.eventCount >
          stopped.events.filter((t) => t === "STEP_STARTED").length,
      );

      const again = await client(["connect", url, threadId]);
      assert.equal(again.pending.length, 1, "the reconnect shows the gate");
      assert.equal(again.state.runId, run.id);

      const resumed = await client(["resume", url, threadId, "reject"]);
      assert.deepEqual(resumed.pending, []);
      assert.equal(resumed.state.status, "rejected");
      assert.equal((await threadRuns(gw, threadId))[0].status, "rejected");
    } finally {
      await rt.stop();
      await gw.close();
    }
  },
});
