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

/** The workflow dialect's encoder: one frame per event; done after the terminal event. */
export function workflowEncoder(): EventEncoder {
  let done = false;
  return {
    encode(ev) {
      if (isTerminalType(ev.type)) done = true;
      return encodeWorkflowEvent(ev);
    },
    get done() {
      return done;
    },
  };
}
