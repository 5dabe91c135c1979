/**
 * The whole system on one machine: the gateway with the built-in LangGraph workflow service
 * in-process (no WORKFLOW_SERVICE_URL), and the promise that an external-service deployment never
 * loads LangGraph.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkEvent } from "../../lib/events.ts";
import { deserialize } from "../../lib/fresh/deserialize.ts";
import { postJson, type TestGateway, withGateway } from "../fixtures/gateway.ts";
import { datas, readSse, types } from "../fixtures/sse_reader.ts";

describe("built-in mode", () => {
  let gw: TestGateway;
  withGateway({ HEARTBEAT_MS: "200" }, (g) => (gw = g));

  it("reports mode built-in in /health and lists the graphs", async () => {
    const health = await (await fetch(`${gw.url}/health`)).json();
    assert.equal(health.status, "ok");
    assert.equal(health.workflow_service.mode, "built-in");
    assert.equal(health.workflow_service.reachable, true);
    const { graphs } = await (await fetch(`${gw.url}/agui/graphs`)).json();
    const names = graphs.map((g: { name: string }) => g.name);
    for (const g of ["hotel_o2c", "hospital_admission", "purchase_order"]) {
      assert.ok(names.includes(g));
    }
  });

  it("hands the console island the graphs and the gateway's HEARTBEAT_MS", async () => {
    const html = await (await fetch(`${gw.url}/`, { headers: { accept: "text/html" } })).text();
    const boot = /boot\(\[[^\]]*\],\[\[0,"default"\]\],("(?:[^"\\]|\\.)*")/.exec(html);
    assert.ok(boot, "the page boots one island");
    const [props] = deserialize(JSON.parse(boot[1])) as [{
      graphs: { name: string }[];
      heartbeatMs: number;
    }];
    assert.equal(props.heartbeatMs, 200, "3 × HEARTBEAT_MS without a byte = a dead connection");
    assert.ok(props.graphs.some((g) => g.name === "hotel_o2c"));
  });

  it("runs the seed's hotel prompt to an invoice through the approval gate", async () => {
    const res = await postJson(`${gw.url}/agui`, {
      graph_name: "hotel_o2c",
      initial_state: { prompt: "Create a hotel reservation for John Doe" },
    });
    assert.equal(res.status, 200);
    const runId = res.headers.get("x-workflow-id")!;
    const first = await readSse(res, (r) => r.frames.some((f) => f.event === "approval_required"));
    const init = datas(first)[0];
    assert.equal(init.graph, "hotel_o2c");
    const gate = datas(first).at(-1)!;
    assert.match(String(gate.message), /John Doe/);
    const ok = await postJson(`${gw.url}/agui/runs/${runId}/approval`, {
      stepId: gate.stepId,
      decision: "approve",
    });
    assert.equal(ok.status, 202);
    await ok.body?.cancel();
    const rest = await readSse(
      await fetch(`${gw.url}/agui/runs/${runId}/events`, {
        headers: { "last-event-id": String(first.frames.length) },
      }),
    );
    const all = [...first.frames, ...rest.frames];
    for (const f of all) assert.ok(checkEvent(f.event, f.data).ok, `${f.event}: ${f.data}`);
    assert.deepEqual(all.map((f) => Number(f.id)), all.map((_, i) => i + 1));
    assert.equal(types(rest).at(-1), "workflow_complete");
    const artifacts = rest.frames.filter((f) => f.event === "artifact").map((f) =>
      JSON.parse(f.data)
    );
    const invoice = artifacts.find((a) => a.name === "invoice");
    assert.ok(invoice, "an invoice artifact");
    assert.equal(JSON.parse(rest.frames.at(-1)!.data).status, "success");
  });

  it("aborts a run paused at its gate", async () => {
    const res = await postJson(`${gw.url}/agui`, {
      graph_name: "hospital_admission",
      initial_state: { prompt: "Admit patient Jane Roe, 54, chest pain" },
    });
    const runId = res.headers.get("x-workflow-id")!;
    const abort = await readSse(res, (r) => {
      if (r.frames.some((f) => f.event === "approval_required") && !r.raw.includes("ABORTING")) {
        r.raw += "ABORTING";
        postJson(`${gw.url}/agui/runs/${runId}/abort`, {}).then((a) => a.body?.cancel());
      }
      return false;
    });
    assert.equal(types(abort).at(-1), "workflow_aborted");
    assert.equal(abort.ended, true);
    const summary = await (await fetch(`${gw.url}/agui/runs/${runId}`)).json();
    assert.equal(summary.run.status, "aborted");
  });
});

describe("external mode", () => {
  it("never loads LangGraph: main.ts reaches it only through a dynamic import", async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", new URL("../../main.ts", import.meta.url).pathname],
      stdout: "piped",
      stderr: "null",
    }).output();
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      roots: string[];
      modules: {
        specifier: string;
        dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
      }[];
      redirects?: Record<string, string>;
    };
    const bySpec = new Map(info.modules.map((m) => [m.specifier, m]));
    const staticReach = new Set<string>();
    const stack = [...info.roots];
    while (stack.length) {
      const raw = stack.pop()!;
      const s = info.redirects?.[raw] ?? raw;
      if (!s || staticReach.has(s)) continue;
      staticReach.add(s);
      for (const d of bySpec.get(s)?.dependencies ?? []) {
        if (!d.isDynamic && d.code?.specifier) stack.push(d.code.specifier);
      }
    }
    assert.ok([...staticReach].some((s) => s.endsWith("lib/gateway/relay.ts")), "graph walked");
    const offenders = [...staticReach].filter((s) =>
      /langgraph|@langchain|workflow_service\//.test(s)
    );
    assert.deepEqual(offenders, []);
    // And the dynamic edge exists (built-in mode still works).
    assert.ok(
      info.modules.some((m) => /workflow_service\/mod\.ts$/.test(m.specifier)),
      "workflow_service is in the graph as a dynamic import",
    );
  });
});
