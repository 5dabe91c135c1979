/**
 * The console's view logic without a browser: folding events into a run view (steps, approval,
 * documents, bounded rows), the status line, event sentences, documents and domain summaries.
 * @module
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyEvent,
  type ConsoleEvent,
  emptyRun,
  type RunView,
  statusText,
} from "../../lib/console/run_state.ts";
import { describeEvent, humanize, money } from "../../lib/console/format.ts";
import { DocumentError, fieldValue, layoutDocument } from "../../lib/console/documents.ts";
import { domainSummary } from "../../lib/console/summary.ts";
import { hotelInvoice } from "../../lib/workflow_service/domains/hotel_o2c.ts";

const TS = "2026-01-01T10:20:30.000Z";
let seq = 0;
const ev = (type: string, data: Record<string, unknown> = {}, id = ++seq): ConsoleEvent => ({
  id,
  type,
  data: { workflowId: "r1", ts: TS, ...data },
});
const fold = (events: ConsoleEvent[], max = 20): RunView =>
  events.reduce((v, e) => applyEvent(v, e, max), emptyRun("r1"));

const STEPS = [
  { name: "reservation", title: "Create reservation", kind: "task" },
  { name: "manager_approval", title: "Manager approval", kind: "gate" },
  { name: "invoice", title: "Issue invoice", kind: "task" },
];
const start = () =>
  ev("workflow_initialized", {
    graph: "hotel_o2c",
    title: "Hotel order-to-cash",
    steps: STEPS,
    input: { guest: "John Doe" },
  });
const states = (v: RunView) => v.steps.map((s) => s.state);

describe("applyEvent", () => {
  it("tracks steps through an approval to completion", () => {
    let v = fold([start(), ev("step_started", { step: "reservation" })]);
    assert.equal(v.title, "Hotel order-to-cash");
    assert.deepEqual(states(v), ["running", "pending", "pending"]);
    v = fold([
      start(),
      ev("step_started", { step: "reservation" }),
      ev("step_completed", { step: "reservation", result: { room_number: "412" } }),
      ev("step_started", { step: "manager_approval" }),
      ev("approval_required", { stepId: "manager_approval", message: "Approve?" }),
    ]);
    assert.deepEqual(states(v), ["done", "waiting", "pending"]);
    assert.equal(v.phase, "waiting");
    assert.deepEqual(v.approval, { stepId: "manager_approval", message: "Approve?" });
    assert.equal(statusText(v, "streaming"), "waiting for approval");
    v = applyEvent(v, ev("approval_resolved", { stepId: "manager_approval", decision: "approve" }));
    assert.equal(v.approval?.decision, "approve");
    assert.equal(v.approval?.message, "Approve?", "the question stays with the decision");
    v = applyEvent(v, ev("workflow_complete", { status: "success", result: { total: 10 } }));
    assert.equal(v.phase, "complete");
    assert.deepEqual(states(v), ["done", "done", "skipped"]);
    assert.equal(v.facts.guest, "John Doe");
    assert.equal(v.facts.room_number, "412");
    assert.equal(statusText(v, "closed"), "complete");
  });

  it("marks the rest skipped on a rejection and the running step failed on an error", () => {
    const rejected = fold([
      start(),
      ev("approval_required", { stepId: "manager_approval", message: "?" }),
      ev("approval_resolved", { stepId: "manager_approval", decision: "reject", comment: "no" }),
      ev("workflow_complete", { status: "rejected", result: {} }),
    ]);
    assert.equal(rejected.phase, "rejected");
    assert.equal(rejected.approval?.comment, "no");
    assert.deepEqual(states(rejected), ["skipped", "done", "skipped"]);
    const failed = fold([
      start(),
      ev("step_started", { step: "reservation" }),
      ev("workflow_error", { message: "boom", retries: 0, code: "step_failed" }),
    ]);
    assert.equal(failed.phase, "error");
    assert.deepEqual(failed.error, { message: "boom", code: "step_failed" });
    assert.deepEqual(states(failed), ["failed", "skipped", "skipped"]);
    const aborted = fold([
      start(),
      ev("step_started", { step: "reservation" }),
      ev("workflow_aborted"),
    ]);
    assert.equal(statusText(aborted, "closed"), "aborted");
  });

  it("drops an undecided approval when the run is aborted or fails (no card for a dead gate)", () => {
    const gate = [
      start(),
      ev("step_started", { step: "manager_approval" }),
      ev("approval_required", { stepId: "manager_approval", message: "Approve?" }),
    ];
    const aborted = fold([...gate, ev("workflow_aborted")]);
    assert.equal(aborted.phase, "aborted");
    assert.equal(aborted.approval, undefined);
    const failed = fold([...gate, ev("workflow_error", { message: "boom", code: "internal" })]);
    assert.equal(failed.phase, "error");
    assert.equal(failed.approval, undefined);
    // A decision that was recorded stays: it happened.
    const decided = fold([
      ...gate,
      ev("approval_resolved", { stepId: "manager_approval", decision: "approve" }),
      ev("workflow_error", { message: "boom", code: "internal" }),
    ]);
    assert.equal(decided.approval?.decision, "approve");
  });

  it("keeps the HTTP status of a client-side failure for the error line", () => {
    const v = fold([
      ev("workflow_error", { code: "connection_lost", message: "down", status: 502 }, 0),
    ]);
    assert.deepEqual(v.error, { message: "down", code: "connection_lost", status: 502 });
  });

  it("keeps only the newest rows, counts the rest, and never shows heartbeats", () => {
    const events = [start()];
    for (let i = 0; i < 200; i++) events.push(ev("progress", { i }));
    events.push(ev("heartbeat"), ev("ping"));
    const v = fold(events);
    assert.equal(v.rows.length, 20);
    assert.equal(v.dropped, 181);
    assert.deepEqual(
      v.rows.map((r) => r.event.data.i),
      Array.from({ length: 20 }, (_, i) => 180 + i),
    );
    assert.ok(v.rows.every((r) => r.event.type === "progress"));
  });

  it("keys synthetic events apart and shows reconnects in the status line", () => {
    const reconnect = (attempt: number) =>
      ev("workflow_reconnecting", { attempt, maxRetries: 3 }, 0);
    let v = fold([start(), reconnect(1), reconnect(2)]);
    assert.equal(new Set(v.rows.map((r) => r.key)).size, 3);
    assert.equal(statusText(v, "reconnecting"), "reconnecting 2/3");
    v = applyEvent(v, ev("step_started", { step: "reservation" }));
    assert.equal(v.reconnect, undefined, "a real event ends the reconnect");
    assert.equal(statusText(v, "streaming"), "streaming");
    assert.equal(statusText(emptyRun("x"), "connecting"), "connecting");
    assert.equal(statusText(v, "offline"), "offline");
  });

  it("keeps the latest document of each name", () => {
    const v = fold([
      ev("artifact", { name: "invoice", mime: "application/json", content: { total: 1 } }),
      ev("artifact", { name: "invoice", mime: "application/json", content: { total: 2 } }),
    ]);
    assert.deepEqual(v.artifacts, [{
      name: "invoice",
      mime: "application/json",
      content: { total: 2 },
    }]);
  });
});

describe("format", () => {
  it("describes events in plain words", () => {
    const titleOf = (s: string) => (s === "invoice" ? "Issue invoice" : humanize(s));
    assert.equal(
      describeEvent(ev("step_started", { step: "invoice" }), titleOf),
      "Issue invoice started",
    );
    // A step run again after a crash (at-least-once) says so instead of reading as a duplicate.
    assert.equal(
      describeEvent(ev("step_started", { step: "invoice", retry: true }), titleOf),
      "Issue invoice started again (restarted after an interruption)",
    );
    assert.equal(
      describeEvent(
        ev("approval_resolved", { stepId: "gate", decision: "reject", comment: "late" }),
        titleOf,
      ),
      "Gate: rejected (“late”)",
    );
    assert.equal(
      describeEvent(ev("workflow_reconnecting", { attempt: 1, maxRetries: 3 }), titleOf),
      "Connection lost, reconnecting (1/3)",
    );
    assert.equal(describeEvent(ev("custom", { a: 1 }), titleOf), '{"a":1}');
    assert.equal(humanize("room_number"), "Room number");
    assert.equal(humanize("checkIn"), "Check in");
    assert.equal(money(1234.5), "$1,234.50");
  });
});

describe("documents", () => {
  it("lays an invoice out with line items, taxes and totals", () => {
    const input = {
      guest: "John Doe",
      checkIn: "2026-12-01",
      checkOut: "2026-12-04",
      nights: 3,
      roomType: "suite" as const,
      guests: 1,
      rate: 250,
    };
    const doc = layoutDocument("invoice", hotelInvoice(input, "HTL-1", "2026-12-04"));
    assert.ok(doc);
    assert.equal(doc.title, "Invoice");
    assert.match(doc.number ?? "", /^INV-/);
    assert.deepEqual(doc.tables[0].columns, ["Description", "Quantity", "Unit price", "Amount"]);
    assert.deepEqual(doc.tables[0].rows[0], ["Suite room, 3 nights", "3", "$250.00", "$750.00"]);
    assert.deepEqual(doc.totals, [
      ["Subtotal", "$760.50"],
      ["Occupancy tax (12%)", "$90.00"],
      ["Total", "$850.50"],
    ]);
    assert.ok(doc.fields.some(([k, v]) => k === "Bill to" && v === "John Doe"));
  });

  it("gives unknown artifacts no layout (shown as JSON) and refuses broken known ones", () => {
    assert.equal(layoutDocument("loyalty_card", { tier: "gold" }), null);
    assert.equal(layoutDocument("invoice", "not an object"), null);
    assert.throws(
      () => layoutDocument("invoice", { invoice_number: "X", line_items: 3 }),
      (err) => err instanceof DocumentError && /line_items is not a list/.test(err.message),
    );
    assert.equal(fieldValue("ok", true), "yes");
    assert.equal(fieldValue("booked_at", "2026-01-01T10:20:30.000Z"), "2026-01-01 10:20 UTC");
  });
});

describe("domainSummary", () => {
  it("shows hotel and hospital facts as they arrive", () => {
    assert.deepEqual(domainSummary("hotel_o2c", { guest: "John Doe" }), [["Guest", "John Doe"]]);
    assert.deepEqual(
      domainSummary("hotel_o2c", {
        guest: "John Doe",
        room_number: "412",
        check_in: "2026-12-01",
        check_out: "2026-12-04",
        total: 850.5,
      }),
      [["Guest", "John Doe"], ["Room", "412"], ["Dates", "2026-12-01 → 2026-12-04"], [
        "Amount",
        "$850.50",
      ]],
    );
    assert.deepEqual(
      domainSummary(
        "other",
        { patient: "Maria Garcia", ward: "Cardiology", bed: "CARD-3A" },
        "healthcare",
      ),
      [["Patient", "Maria Garcia"], ["Ward", "Cardiology"], ["Bed", "CARD-3A"]],
    );
    assert.deepEqual(domainSummary("unknown_graph", { guest: "x" }), []);
  });
});
