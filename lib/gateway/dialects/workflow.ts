/**
 * The workflow dialect (DESIGN §5): each stored event becomes one
 * `id: <seq>\nevent: <type>\ndata: <json>\n\n` frame. The stored data is already one line of
 * JSON text (the relay guarantees it), so encoding is string concatenation: no re-serializing.
 * @module
 */
import type { StoredEvent } from "../../events.ts";

/** One stored event as a workflow-dialect SSE frame. */
export function encodeWorkflowEvent(ev: StoredEvent): string {
  return "id: " + ev.seq + "\nevent: " + ev.type + "\ndata: " + ev.data + "\n\n";
}
