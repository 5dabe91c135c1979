/**
 * The workflow dialect: each stored event becomes one `id: <seq>\nevent: <type>\ndata: <json>\n\n`
 * frame. The stored data is already one line of JSON text (the relay guarantees it), so encoding is
 * string concatenation: no re-serializing. Tables: docs/architecture.md, "Dialects".
 * @module
 */
import { isTerminalType, type StoredEvent } from "../../events.ts";
import type { EventEncoder } from "../client_stream.ts";

/** One stored event as a workflow-dialect SSE frame. */
export function encodeWorkflowEvent(ev: StoredEvent): string {
  return "id: " + ev.seq + "\nevent: " + ev.type + "\ndata: " + ev.data + "\n\n";
}

/**
 * The workflow dialect's encoder: one frame per event; done after the terminal event. A class,
 * not an object literal with a getter: every open stream holds one, and a literal's closures,
 * scope and accessor pair cost ~400 bytes more each.
 */
class WorkflowEncoder implements EventEncoder {
  /** True once the terminal event was encoded. */
  done = false;
  encode(ev: StoredEvent): string {
    if (isTerminalType(ev.type)) this.done = true;
    return encodeWorkflowEvent(ev);
  }
}

/** The workflow dialect's encoder for one client stream. */
export function workflowEncoder(): EventEncoder {
  return new WorkflowEncoder();
}
