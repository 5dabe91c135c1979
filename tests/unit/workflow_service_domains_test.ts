/**
 * The domain logic of the built-in workflows, without LangGraph: input extraction per graph,
 * triage levels and wards, invoice arithmetic, budget checks, and determinism of documents.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  esiLevel,
  extractAdmissionInput,
  hospitalAdmission,
  SYMPTOM_ESI,
  wardFor,
} from "../../lib/workflow_service/domains/hospital_admission.ts";
import { SYMPTOMS } from "../../lib/workflow_service/extract_clinical.ts";
import { extractHotelInput, hotelInvoice } from "../../lib/workflow_service/domains/hotel_o2c.ts";
import {
  extractPurchaseInput,
  purchaseOrder,
} from "../../lib/workflow_service/domains/purchase_order.ts";
import { listGraphs, WORKFLOWS } from "../../lib/workflow_service/graphs.ts";
import { graphInfoSchema } from "../../lib/events.ts";
import type { StepResults } from "../../lib/workflow_service/spec.ts";

const NOW = new Date("2026-07-15T10:00:00.000Z");

describe("catalog", () => {
  it("lists three valid graphs, each with exactly one gate and unique step names", () => {
    const graphs = listGraphs();
    assert.deepEqual(graphs.map((g) => g.name), [
      "hotel_o2c",
      "hospital_admission",
      "purchase_order",
    ]);
    for (const g of graphs) graphInfoSchema.parse(g);
    for (const w of WORKFLOWS.values()) {
      const names = w.steps.map((s) => s.name);
      assert.equal(new Set(names).size, names.length);
      assert.equal(w.steps.filter((s) => s.kind === "gate").length, 1);
      // LangGraph refuses node names equal to state keys.
      for (const n of names) {
        assert.ok(!["input", "options", "results", "decision", "documents"].includes(n));
      }
    }
  });
});

describe("hotel_o2c", () => {
  it("extracts guest, stay, room and rate, with app_context taking precedence", () => {
    assert.deepEqual(
      extractHotelInput(
        {
          prompt: "Reserve a double room for Mr. Alan Turing from Dec 1-4 at $199/night, 2 guests",
        },
        NOW,
      ),
      {
        guest: "Alan Turing",
        checkIn: "2026-12-01",
        checkOut: "2026-12-04",
        nights: 3,
        roomType: "double",
        guests: 2,
        rate: 199,
      },
    );
    const fromContext = extractHotelInput({
      prompt: "suite for John Doe",
      app_context: {
        guest_name: "Grace Hopper",
        check_in: "2026-09-01",
        nights: 2,
        room_type: "single",
      },
    }, NOW);
    assert.equal(fromContext.guest, "Grace Hopper");
    assert.equal(fromContext.checkOut, "2026-09-03");
    assert.equal(fromContext.roomType, "single");
    assert.equal(fromContext.rate, 129);
  });
  it("reads the length of the stay after a nightly rate", () => {
    const input = extractHotelInput(
      { prompt: "Create a hotel reservation for John Doe at $250 per night for 3 nights" },
      NOW,
    );
    assert.deepEqual([input.guest, input.nights, input.rate], ["John Doe", 3, 250]);
    assert.equal(input.checkOut, "2026-07-19");
    const second = extractHotelInput(
      {
        prompt:
          "Suite for Ana Lopez, $150 a night, 3 nights from 2027-01-10, per guest fee, 2 guests",
      },
      NOW,
    );
    assert.deepEqual(
      [second.checkIn, second.checkOut, second.nights, second.rate, second.guests],
      ["2027-01-10", "2027-01-13", 3, 150, 2],
    );
  });
  it("defaults to a walk-in guest, tomorrow, one night, double at rack rate", () => {
    assert.deepEqual(extractHotelInput({}, NOW), {
      guest: "Walk-in Guest",
      checkIn: "2026-07-16",
      checkOut: "2026-07-17",
      nights: 1,
      roomType: "double",
      guests: 1,
      rate: 179,
    });
  });
  it("computes the invoice: room nights, fee, 12 % tax on the room only", () => {
    const input = extractHotelInput({ prompt: "suite for 2 nights at $100.10 per night" }, NOW);
    const invoice = hotelInvoice(input, "HTL-000001", "2026-07-18");
    assert.equal(invoice.subtotal, 207.2); // 200.20 + 7.00
    assert.equal(invoice.tax_total, 24.02); // 12 % of 200.20 = 24.024
    assert.equal(invoice.total, 231.22);
  });
});

describe("hospital_admission", () => {
  it("scores ESI from the most urgent symptom, with severity and age modifiers", () => {
    assert.equal(esiLevel(["cardiac arrest"]), 1);
    assert.equal(esiLevel(["chest pain", "cough"]), 2);
    assert.equal(esiLevel(["fracture"]), 3);
    assert.equal(esiLevel(["fracture"], "severe"), 2);
    assert.equal(esiLevel(["sprain"], "mild"), 5);
    assert.equal(esiLevel(["rash"], undefined, 85), 3);
    assert.equal(esiLevel([], "critical"), 1);
    assert.equal(esiLevel([]), 5);
  });
  it("assigns wards by acuity, complaint and age", () => {
    assert.equal(wardFor(1, ["chest pain"]), "icu");
    assert.equal(wardFor(2, ["chest pain"], 8), "pediatrics");
    assert.equal(wardFor(2, ["chest pain"]), "cardiology");
    assert.equal(wardFor(2, ["stroke symptoms"]), "neurology");
    assert.equal(wardFor(3, ["fracture"]), "orthopedics");
    assert.equal(wardFor(4, ["rash"]), "observation");
    assert.equal(wardFor(3, ["abdominal pain"]), "medicine");
  });
  it("extracts patient, age, sex, symptoms and severity", () => {
    const input = extractAdmissionInput(
      { prompt: "45-year-old man named Tom Baker with a severe broken arm" },
      NOW,
    );
    assert.equal(input.patient, "Tom Baker");
    assert.equal(input.age, 45);
    assert.equal(input.sex, "male");
    assert.deepEqual(input.symptoms, ["fracture"]);
    assert.equal(input.severity, "severe");
    const ctx = extractAdmissionInput({
      prompt: "admit",
      app_context: { patient_name: "Ada Lovelace", symptoms: ["seizure"], age: "36" },
    }, NOW);
    assert.deepEqual([ctx.patient, ctx.age, ctx.symptoms], ["Ada Lovelace", 36, ["seizure"]]);
    assert.equal(extractAdmissionInput({}, NOW).patient, "Unidentified Patient");
  });
  it("records the clinical part of the prompt as the chief complaint, not the whole prompt", () => {
    const complaint = (prompt: string, appContext: Record<string, unknown> = {}) =>
      extractAdmissionInput({ prompt, app_context: appContext }, NOW).complaint;
    assert.equal(
      complaint("Admit patient Maria Garcia, 67, with severe chest pain and shortness of breath"),
      "severe chest pain and shortness of breath",
    );
    // No cue: the symptoms found; nothing at all: "not stated".
    assert.equal(
      complaint("Admit patient Jane Roe, 54, chest pain and a cough"),
      "chest pain, cough",
    );
    assert.equal(complaint("Admit Jane Roe"), "not stated");
    assert.equal(complaint("Admit Jane Roe", { chief_complaint: "fall at home" }), "fall at home");
    const triage = hospitalAdmission.steps[0];
    assert.ok(triage.kind === "task");
    const input = extractAdmissionInput(
      { prompt: "Admit Bo Li, 8, presenting with a high fever" },
      NOW,
    );
    assert.equal(triage.run(input, {}, { threadId: "t1", now: NOW }).chief_complaint, "high fever");
  });
  it("admits critical bleeding to the ICU as a hemorrhage, not for observation", () => {
    const input = extractAdmissionInput({ prompt: "Admit John Roe with critical bleeding" }, NOW);
    assert.deepEqual(input.symptoms, ["severe bleeding"]);
    const ctx = { threadId: "t1", now: NOW };
    const results: StepResults = {};
    for (const step of hospitalAdmission.steps) {
      if (step.kind === "task") results[step.name] = step.run(input, results, ctx);
    }
    assert.equal(results.triage.esi_level, 1);
    assert.equal(results.bed_assignment.ward_code, "ICU");
    assert.equal(
      results.admission_record.provisional_diagnosis,
      "Hemorrhage, source to be determined",
    );
    const minor = extractAdmissionInput({ prompt: "Admit Ana Roe, 30, bleeding gums" }, NOW);
    assert.equal(esiLevel(minor.symptoms), 3);
  });
  it("gives every symptom of the vocabulary a triage level", () => {
    for (const name of Object.keys(SYMPTOMS)) assert.ok(SYMPTOM_ESI[name] >= 1, name);
  });
  it("does not take a duration for the age (an adult is not sent to Pediatrics)", () => {
    const input = extractAdmissionInput({
      prompt: "Patient Ahmed Khan, 60, presenting with slurred speech, history of 2 years diabetes",
    }, NOW);
    assert.equal(input.age, 60);
    assert.equal(
      wardFor(esiLevel(input.symptoms, input.severity, input.age), input.symptoms, input.age),
      "neurology",
    );
  });
});

describe("purchase_order", () => {
  it("extracts the line, vendor, department and unit price (also from a total)", () => {
    assert.deepEqual(
      extractPurchaseInput({
        prompt: "Order 20 laptops from Acme Corp at $1,200 each for Engineering",
      }, NOW),
      {
        item: "laptops",
        quantity: 20,
        unitPrice: 1200,
        vendor: "Acme Corp",
        department: "Engineering",
        requestedOn: "2026-07-15",
      },
    );
    assert.equal(
      extractPurchaseInput({ prompt: "Buy 1000 licenses of Office 365 for Engineering" }, NOW)
        .item,
      "office 365 (licenses)",
    );
    const total = extractPurchaseInput({
      prompt:
        "Purchase 500 reams of printer paper from Staples for the Facilities team, total $2,500",
    }, NOW);
    assert.equal(total.unitPrice, 5);
    assert.equal(total.department, "Facilities");
  });
  it("flags an over-budget request in the budget check and the approval message", () => {
    const input = extractPurchaseInput(
      { prompt: "Order 100 servers at $2,000 each for Finance" },
      NOW,
    );
    const ctx = { threadId: "t1", now: NOW };
    const results: StepResults = {};
    for (const step of purchaseOrder.steps) {
      if (step.kind === "gate") {
        assert.match(step.message(input, results), /OVER BUDGET by \$170,045\.00/);
        break;
      }
      results[step.name] = step.run(input, results, ctx);
    }
    assert.equal(results.budget_check.available, 30_000);
    assert.equal(results.budget_check.within_budget, false);
  });
  it("produces the same documents for the same thread and input", () => {
    const input = extractPurchaseInput({ prompt: "Order 2 chairs" }, NOW);
    const run = (threadId: string) => {
      const results: StepResults = {};
      for (const step of purchaseOrder.steps) {
        if (step.kind === "task") {
          results[step.name] = step.run(input, results, { threadId, now: NOW });
        }
      }
      return results;
    };
    assert.deepEqual(run("a"), run("a"));
    assert.notEqual(run("a").issue_po.po_number, run("b").issue_po.po_number);
    assert.equal(run("a").three_way_match.matched, true);
  });
});
