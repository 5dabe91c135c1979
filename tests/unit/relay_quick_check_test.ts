/**
 * The relay's hand-written check of hot event types must never accept a frame the zod schemas
 * reject (it may only be stricter), and must accept the usual frames (else it saves nothing).
 */
import assert from "node:assert/strict";
import { checkEvent, quickCheck } from "../../lib/events.ts";

const TS = "2026-01-01T00:00:00.000Z";

Deno.test("quickCheck accepts well-formed hot events, with the same data as checkEvent", () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ["step_started", { workflowId: "r1", ts: TS, step: "a" }],
    ["step_started", { workflowId: "r1", ts: 5, step: "a", extra: { x: 1 } }],
    ["step_completed", { workflowId: "r1", ts: TS, step: "a", result: null }],
    ["workflow_initialized", { workflowId: "r1", ts: TS, graph: "g" }],
  ];
  for (const [type, data] of cases) {
    const text = JSON.stringify(data);
    const q = quickCheck(type, text);
    assert.ok(q, `${type} ${text}`);
    const z = checkEvent(type, text);
    assert.ok(z.ok);
    assert.deepEqual(q.event.data, z.event.data);
  }
});

Deno.test("quickCheck never passes what checkEvent rejects", () => {
  const bad: Array<[string, string]> = [
    ["step_started", "not json"],
    ["step_started", "[]"],
    ["step_started", "null"],
    ["step_started", JSON.stringify({ ts: TS, step: "a" })],
    ["step_started", JSON.stringify({ workflowId: "", ts: TS, step: "a" })],
    ["step_started", JSON.stringify({ workflowId: "r", ts: "", step: "a" })],
    ["step_started", '{"workflowId":"r","ts":1e999,"step":"a"}'],
    ["step_started", JSON.stringify({ workflowId: "r", ts: TS, step: "" })],
    ["step_started", JSON.stringify({ workflowId: "r", ts: TS, step: 3 })],
    ["step_completed", JSON.stringify({ workflowId: "r", ts: TS })],
    ["workflow_initialized", JSON.stringify({ workflowId: "r", ts: TS })],
    ["workflow_initialized", JSON.stringify({ workflowId: "r", ts: true, graph: "g" })],
  ];
  for (const [type, text] of bad) {
    assert.equal(checkEvent(type, text).ok, false, `zod should reject ${text}`);
    assert.equal(quickCheck(type, text), null, `quickCheck passed ${type} ${text}`);
  }
});

Deno.test("quickCheck leaves other types to checkEvent", () => {
  const text = JSON.stringify({ workflowId: "r", ts: TS, status: "complete", result: 1 });
  assert.equal(quickCheck("workflow_complete", text), null);
  assert.equal(quickCheck("custom_thing", text), null);
});
