/**
 * The AG-UI events endpoint follows a run across its approval gate: the encoder ends one AG-UI
 * run on the interrupt, stays open, and opens the next (RUN_STARTED, a snapshot of the state so
 * far) with the decision, keeping AG-UI's ordering rules within each AG-UI run.
 */
import assert from "node:assert/strict";
import { createAguiTranslator } from "../../lib/gateway/dialects/agui.ts";
import { aguiEncoder } from "../../lib/gateway/dialects/agui_http.ts";
import type { StoredEvent } from "../../lib/events.ts";

const RUN = "run-follow-1";

const TS = "2026-01-05T10:00:00.000Z";

function log(): StoredEvent[] {
  const ev = (seq: number, type: string, data: Record<string, unknown>) => ({
    seq,
    type,
    data: JSON.stringify({ workflowId: RUN, ts: TS, ...data }),
  });
  return [
    ev(1, "workflow_initialized", { graph: "hotel_o2c" }),
    ev(2, "step_started", { step: "reservation" }),
    ev(3, "step_completed", { step: "reservation", result: { ok: true } }),
    ev(4, "approval_required", { stepId: "manager_approval", message: "ok?" }),
    ev(5, "approval_resolved", { stepId: "manager_approval", decision: "approve" }),
    ev(6, "step_started", { step: "payment" }),
    ev(7, "step_completed", { step: "payment", result: 1 }),
    ev(8, "workflow_complete", { status: "complete", result: { total: 1 } }),
  ];
}

function decode(frames: string): Record<string, unknown>[] {
  return frames.split("\n\n").filter(Boolean).map((b) =>
    JSON.parse(b.split("\n").find((l) => l.startsWith("data: "))!.slice(6))
  );
}

Deno.test("a following AG-UI encoder opens a new AG-UI run after the interrupt", () => {
  const tr = createAguiTranslator({ threadId: "t", runId: RUN });
  const enc = aguiEncoder(tr, true, true);
  let frames = "";
  const doneAfter: boolean[] = [];
  for (const ev of log()) {
    frames += enc.encode(ev);
    doneAfter.push(enc.done);
  }
  // Paused at the gate is not the end of the stream; only the terminal event is.
  assert.deepEqual(doneAfter, [false, false, false, false, false, false, false, true]);
  const events = decode(frames);
  const types = events.map((e) => e.type);
  assert.equal(types.filter((t) => t === "RUN_STARTED").length, 2);
  const second = types.lastIndexOf("RUN_STARTED");
  assert.deepEqual(types.slice(second - 1, second + 2), [
    "RUN_FINISHED",
    "RUN_STARTED",
    "STATE_SNAPSHOT",
  ]);
  assert.equal((events[second - 1].outcome as { type: string }).type, "interrupt");
  assert.equal((events[second + 1].snapshot as { status: string }).status, "waiting_approval");
  assert.equal(types.at(-1), "RUN_FINISHED");
  assert.equal(events.at(-1)!.outcome, undefined);
  // AG-UI's ordering rules hold within each AG-UI run: steps close before RUN_FINISHED, and
  // nothing but a new RUN_STARTED follows a RUN_FINISHED.
  let open = 0;
  for (const [i, t] of types.entries()) {
    if (t === "STEP_STARTED") open++;
    if (t === "STEP_FINISHED") open--;
    assert.ok(open >= 0);
    if (t === "RUN_FINISHED") {
      assert.equal(open, 0, "RUN_FINISHED with an open step");
      assert.ok(i === types.length - 1 || types[i + 1] === "RUN_STARTED");
    }
  }
});

Deno.test("a POST's AG-UI encoder (not following) ends at the interrupt", () => {
  const tr = createAguiTranslator({ threadId: "t", runId: RUN });
  const enc = aguiEncoder(tr, true);
  let frames = "";
  for (const ev of log().slice(0, 4)) frames += enc.encode(ev);
  assert.equal(enc.done, true);
  assert.equal(enc.encode(log()[4]), "");
  assert.equal(decode(frames).at(-1)!.type, "RUN_FINISHED");
});
