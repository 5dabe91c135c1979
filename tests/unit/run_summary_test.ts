/**
 * THE event → status reducer: the relay's stored summary, the AG-UI state and the console's phase
 * come from it, so on every run shape and at every event the three must tell the same status.
 */
import assert from "node:assert/strict";
import type { RunStatus, StoredEvent } from "../../lib/events.ts";
import { applyEvent, emptyRun, type Phase } from "../../lib/console/run_state.ts";
import { createAguiTranslator } from "../../lib/gateway/dialects/agui.ts";
import { isFinished, statusAfter, summaryPatch } from "../../lib/runs/summary.ts";

const TS = "2026-01-01T00:00:00.000Z";
const NOW = Date.parse("2026-01-02T00:00:00.000Z");

function log(...events: [string, Record<string, unknown>][]): StoredEvent[] {
  return events.map(([type, fields], i) => ({
    seq: i + 1,
    type,
    data: JSON.stringify({ workflowId: "r", ts: TS, ...fields }),
  }));
}

const START: [string, Record<string, unknown>][] = [
  ["workflow_initialized", { graph: "hotel_o2c" }],
  ["step_started", { step: "reservation" }],
  ["step_completed", { step: "reservation", result: {} }],
  ["artifact", { name: "reservation", mime: "application/json", content: {} }],
  ["approval_required", { stepId: "manager_approval", message: "Approve?", options: ["a"] }],
];
const RUNS: Record<string, StoredEvent[]> = {
  complete: log(
    ...START,
    ["approval_resolved", { stepId: "manager_approval", decision: "approve" }],
    ["step_started", { step: "check_in" }],
    ["workflow_complete", { status: "complete", result: {} }],
  ),
  rejected: log(
    ...START,
    ["approval_resolved", { stepId: "manager_approval", decision: "reject" }],
    ["workflow_complete", { status: "rejected", result: {} }],
  ),
  error: log(...START.slice(0, 2), ["workflow_error", { code: "x", message: "m", retries: 0 }]),
  aborted: log(...START, ["workflow_aborted", {}]),
};

const PHASE_OF: Record<RunStatus, Phase> = {
  running: "running",
  waiting_approval: "waiting",
  complete: "complete",
  rejected: "rejected",
  error: "error",
  aborted: "aborted",
};

for (const [name, events] of Object.entries(RUNS)) {
  Deno.test(`relay, AG-UI and console agree on the status at every event: ${name} run`, () => {
    let stored: RunStatus = "running";
    let folded: RunStatus | undefined;
    let view = emptyRun("r");
    const tr = createAguiTranslator({ threadId: "t", runId: "r" });
    for (const ev of events) {
      // The relay writes one patch per batch; here every event is its own batch.
      stored = summaryPatch([ev], NOW).status ?? stored;
      folded = statusAfter(folded, ev.type, JSON.parse(ev.data));
      view = applyEvent(view, { id: ev.seq, type: ev.type, data: JSON.parse(ev.data) });
      tr.prime([ev]);
      assert.equal(stored, folded, `${ev.type}: relay vs reducer`);
      assert.equal(tr.state.status, stored, `${ev.type}: AG-UI vs relay`);
      assert.equal(view.phase, PHASE_OF[stored], `${ev.type}: console vs relay`);
    }
    assert.equal(stored, name);
    assert.ok(isFinished({ status: stored }));
    // One batch of the whole run ends at the same status as the event-by-event fold.
    assert.equal(summaryPatch(events, NOW).status, stored);
  });
}

Deno.test("summaryPatch records the gate, its end, errors and the finish time", () => {
  const gate = summaryPatch(RUNS.complete.slice(0, 5), NOW);
  assert.deepEqual(gate, {
    status: "waiting_approval",
    pendingApproval: {
      stepId: "manager_approval",
      message: "Approve?",
      since: new Date(NOW).toISOString(),
      options: ["a"],
    },
  });
  const rest = summaryPatch(RUNS.complete.slice(5), NOW);
  assert.deepEqual(rest, {
    status: "complete",
    pendingApproval: undefined,
    finishedAt: new Date(NOW).toISOString(),
  });
  assert.ok("pendingApproval" in rest, "the patch removes the pending approval");
  const failed = summaryPatch(RUNS.error.slice(2), NOW);
  assert.deepEqual(failed.error, { code: "x", message: "m" });
  assert.equal(failed.status, "error");
  // Events that do not move the status only count.
  assert.deepEqual(summaryPatch(RUNS.complete.slice(2, 4), NOW), {});
  // A step that starts does not decide a gate logged before it in the same batch.
  const sameBatch = summaryPatch(log(START[4], ["step_started", { step: "x" }]), NOW);
  assert.equal(sameBatch.status, "waiting_approval");
});
