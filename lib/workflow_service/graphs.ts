/**
 * The catalog of built-in workflows. Importing it loads only plain TypeScript (no LangGraph), so
 * the gateway can list graphs cheaply; `runner.ts` compiles them on first use.
 * @module
 */
import type { GraphInfo } from "../events.ts";
import { hospitalAdmission } from "./domains/hospital_admission.ts";
import { hotelO2c } from "./domains/hotel_o2c.ts";
import { purchaseOrder } from "./domains/purchase_order.ts";
import type { WorkflowSpec } from "./spec.ts";

/** Every built-in workflow, by graph name. */
export const WORKFLOWS: ReadonlyMap<string, WorkflowSpec> = new Map(
  ([hotelO2c, hospitalAdmission, purchaseOrder] as WorkflowSpec<unknown>[]).map((
    w,
  ) => [w.info.name, w]),
);

/** What `GET /graphs` answers: name, title, domain, description, example prompt. */
export function listGraphs(): GraphInfo[] {
  return [...WORKFLOWS.values()].map((w) => ({ ...w.info }));
}
