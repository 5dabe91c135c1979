/**
 * The WorkflowStreamPanel rendered to HTML without a browser: a hospital admission run (its
 * events built by walking the real `hospital_admission` workflow's steps) shows the hospital
 * summary and the admission record as a document; the error line's heading names the failure.
 * @module
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import { WorkflowStreamPanel } from "../../components/workflow_stream_panel.tsx";
import { layoutDocument } from "../../lib/console/documents.ts";
import {
  applyEvent,
  type ConsoleEvent,
  emptyRun,
  type RunView,
} from "../../lib/console/run_state.ts";
import { hospitalAdmission } from "../../lib/workflow_service/domains/hospital_admission.ts";
import type { JsonObject, StepResults } from "../../lib/workflow_service/spec.ts";

const NOW = new Date("2026-12-01T09:30:00.000Z");
const PROMPT = "Admit patient Maria Garcia, 67, with severe chest pain and shortness of breath";

/** The events a hospital admission run sends when the gate is approved, in the service's order. */
function hospitalEvents(): ConsoleEvent[] {
  const spec = hospitalAdmission;
  const input = spec.extract({ prompt: PROMPT }, NOW);
  const results: StepResults = {};
  const out: ConsoleEvent[] = [];
  const emit = (type: string, data: JsonObject) =>
    out.push({
      id: out.length + 1,
      type,
      data: { workflowId: "adm-1", ts: NOW.toISOString(), ...data },
    });
  emit("workflow_initialized", {
    graph: spec.info.name,
    title: spec.info.title,
    steps: spec.steps.map((s) => ({ name: s.name, title: s.title, kind: s.kind })),
  });
  for (const step of spec.steps) {
    emit("step_started", { step: step.name });
    if (step.kind === "gate") {
      emit("approval_required", { stepId: step.name, message: step.message(input, results) });
      emit("approval_resolved", { stepId: step.name, decision: "approve" });
      results[step.name] = { stepId: step.name, decision: "approve" };
      emit("step_completed", { step: step.name, result: results[step.name] });
      continue;
    }
    const result = step.run(input, results, { threadId: "adm-1", now: NOW });
    results[step.name] = result;
    emit("step_completed", { step: step.name, result });
    if (step.artifact) {
      emit("artifact", { name: step.artifact, mime: "application/json", content: result });
    }
  }
  emit("workflow_complete", { status: "success", result: spec.summarize(input, results) });
  return out;
}

const fold = (events: ConsoleEvent[]): RunView =>
  events.reduce((v, e) => applyEvent(v, e), emptyRun("adm-1"));

/** Text of every `<tag>` inside the first element with `class="<cls>"` (the markup is simple). */
function texts(html: string, cls: string, tag: string): string[] {
  const start = html.indexOf(`class="${cls}"`);
  assert.ok(start >= 0, `no .${cls} in the panel`);
  const block = html.slice(start, html.indexOf("</dl>", start));
  return [...block.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, "g"))].map((m) => m[1]);
}

const render = (view: RunView, domain?: string) =>
  renderToString(h(WorkflowStreamPanel, { view, status: "complete", domain }));

describe("WorkflowStreamPanel: hospital admission", () => {
  const view = fold(hospitalEvents());

  it("shows the hospital summary: patient, ward, bed and ESI level", () => {
    const html = render(view, "healthcare");
    assert.deepEqual(texts(html, "summary", "dt"), ["Patient", "Ward", "Bed", "ESI"]);
    const values = texts(html, "summary", "dd");
    assert.equal(values[0], "Maria Garcia");
    assert.equal(values[1], view.facts.ward);
    assert.equal(values[2], view.facts.bed);
    assert.equal(values[3], String(view.facts.esi_level));
    // The graph name alone picks the same summary (the graph list may be unavailable).
    assert.deepEqual(texts(render(view), "summary", "dt"), ["Patient", "Ward", "Bed", "ESI"]);
  });

  it("lays the admission record out as a document", () => {
    const record = view.artifacts.find((a) => a.name === "admission_record");
    assert.ok(record, "the run produced an admission record");
    const doc = layoutDocument(record.name, record.content);
    assert.ok(doc);
    assert.equal(doc.title, "Admission record");
    assert.match(doc.number ?? "", /^ADM-/);
    const fields = Object.fromEntries(doc.fields);
    assert.equal(fields["Patient"], "Maria Garcia");
    assert.equal(fields["Age"], "67");
    assert.equal(fields["Admitted at"], "2026-12-01 09:30 UTC");
    assert.equal(fields["Ward"], view.facts.ward);
    assert.equal(fields["Bed"], view.facts.bed);
    assert.match(fields["Mrn"] ?? "", /^MRN-/);
    assert.ok(!("Admission number" in fields), "the number is in the header, not repeated");
    // Several initial orders are a list, not one comma-joined field.
    const orders = doc.lists.find(([label]) => label === "Initial orders");
    assert.ok(orders && orders[1].length > 1, `lists: ${JSON.stringify(doc.lists)}`);
    assert.deepEqual(doc.tables, []);
    assert.deepEqual(doc.totals, []);

    const html = render(view, "healthcare");
    assert.match(html, /<article class="doc" data-artifact="admission_record">/);
    assert.match(html, /<h4>Admission record<\/h4><span class="doc-meta">ADM-/);
    assert.match(html, /<h5>Initial orders<\/h5><ul><li>/);
  });
});

describe("WorkflowStreamPanel: the error line", () => {
  const failed = (data: Record<string, unknown>) =>
    render(fold([{ id: 0, type: "workflow_error", data: { ts: NOW.toISOString(), ...data } }]));

  it("heads a failure by what failed, and shows the cause once", () => {
    const unavailable = failed({
      code: "connection_lost",
      status: 502,
      message: "The workflow service is unreachable (gave up after 3 retries)",
    });
    assert.match(
      unavailable,
      /<strong>Workflow service unavailable<\/strong> — The workflow service is unreachable/,
    );
    const lost = failed({ code: "connection_lost", message: "network error (gave up…)" });
    assert.match(lost, /<strong>Connection lost<\/strong> — network error/);
    assert.doesNotMatch(lost, /Connection lost.*Connection lost/);
    assert.match(failed({ code: "step_failed", message: "boom" }), /<strong>Run failed<\/strong>/);
  });
});
