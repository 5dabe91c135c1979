/**
 * Text for people: labels from field names, money, times, and one line per event. Shared by the
 * live panel and the server-rendered run page; no DOM, no framework.
 * @module
 */
import type { ConsoleEvent } from "./run_state.ts";

/** `room_number` → `Room number`, `checkIn` → `Check in`. */
export function humanize(key: string): string {
  const words = key.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** `1234.5` → `$1,234.50` (any ISO currency; en-US formatting so server and browser agree). */
export function money(amount: unknown, currency = "USD"): string {
  const n = Number(amount);
  if (!Number.isFinite(n)) return String(amount);
  try {
    return n.toLocaleString("en-US", { style: "currency", currency });
  } catch {
    return `${n.toFixed(2)} ${currency}`;
  }
}

/** `HH:MM:SS` (UTC) of an ISO timestamp or epoch milliseconds; "" when unreadable. */
export function clock(ts: unknown): string {
  const d = new Date(ts as string);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().slice(11, 19);
}

/** A compact one-line rendering of any value. */
export function brief(value: unknown, max = 80): string {
  const s = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Looks a step's title up by name (falls back to the humanized name). */
export type TitleOf = (step: string) => string;

/** One line describing an event, for the event log. */
export function describeEvent(event: ConsoleEvent, titleOf: TitleOf): string {
  const d = event.data;
  const step = () => titleOf(String(d.step ?? d.stepId));
  switch (event.type) {
    case "workflow_initialized":
      return `Started ${d.title ?? d.graph}`;
    case "step_started":
      // After a crash the cut step runs again: say so, so it never reads as a duplicate.
      return `${step()} started${d.retry ? " again (restarted after an interruption)" : ""}`;
    case "step_completed":
      return `${step()} done`;
    case "approval_required":
      return `Waiting for approval: ${d.message}`;
    case "approval_resolved":
      return `${step()}: ${d.decision === "reject" ? "rejected" : "approved"}${
        d.comment ? ` (“${d.comment}”)` : ""
      }`;
    case "artifact":
      return `Document: ${humanize(String(d.name))}`;
    case "workflow_complete":
      return d.status === "rejected" ? "Run ended: rejected" : "Run complete";
    case "workflow_error":
      return `Error: ${d.message}${d.code ? ` [${d.code}]` : ""}`;
    case "workflow_aborted":
      return "Run aborted";
    case "workflow_reconnecting":
      return `Connection lost, reconnecting (${d.attempt}/${d.maxRetries})`;
    case "message":
      return `${d.role}: ${brief(d.text, 200)}`;
  }
  // An AG-UI agent's event with no workflow meaning keeps its original under `agui`.
  const { workflowId: _w, ts: _t, agui, ...rest } = d;
  return agui ? `AG-UI ${(agui as { type?: string }).type}` : brief(rest);
}
