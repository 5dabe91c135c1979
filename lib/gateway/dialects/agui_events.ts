/**
 * The AG-UI events this dialect emits (a subset of AG-UI 1.0 that the 0.0.x client CopilotKit
 * pins also knows) and their wire framing.
 * @module
 */
import {
  type AguiPendingApproval,
  type AguiRunState,
  type JsonPatchOp,
  withoutNulls,
} from "./agui_state.ts";

/** Fields every emitted event may carry. */
interface AguiBase {
  /** Epoch milliseconds of the workflow event that caused it, when it had a usable `ts`. */
  timestamp?: number;
}

/** One approval the run waits for, as RUN_FINISHED's interrupt outcome lists it. */
export interface AguiInterrupt {
  /** The interrupt id a resume names (see `encodeInterruptId`). */
  id: string;
  /** Always `approval`: the only kind of gate a workflow has. */
  reason: "approval";
  /** The gate's question to the user. */
  message: string;
  /** What a resume payload may look like (the upstream's `payloadSchema`, or the default). */
  responseSchema: Record<string, unknown>;
  /** The workflow run and step of the gate, and the decisions it offers. */
  metadata: { runId: string; stepId: string; options?: string[] };
}

/** Every AG-UI event this dialect emits (a subset of AG-UI 1.0 that 0.0.x also knows). */
export type AguiEvent =
  | AguiBase & { type: "RUN_STARTED"; threadId: string; runId: string }
  | AguiBase & { type: "STATE_SNAPSHOT"; snapshot: AguiRunState }
  | AguiBase & { type: "STATE_DELTA"; delta: JsonPatchOp[] }
  | AguiBase & { type: "STEP_STARTED"; stepName: string }
  | AguiBase & { type: "STEP_FINISHED"; stepName: string }
  | AguiBase & { type: "CUSTOM"; name: string; value: unknown }
  | AguiRunFinished
  | AguiBase & { type: "RUN_ERROR"; message: string; code?: string };

/** RUN_FINISHED as this dialect emits it: a result, or an interrupt outcome (never `cancelled`). */
export interface AguiRunFinished extends AguiBase {
  /** The event type. */
  type: "RUN_FINISHED";
  /** The AG-UI thread of the POST this run answers. */
  threadId: string;
  /** The AG-UI run id of that POST. */
  runId: string;
  /** The workflow's result, when it ended (complete or rejected). */
  result?: unknown;
  /** Set when the run stops at an approval gate instead of ending. */
  outcome?: { type: "interrupt"; interrupts: AguiInterrupt[] };
}

/** The resume payload schema clients are told about when the upstream gave none. */
export const DEFAULT_RESPONSE_SCHEMA: Readonly<Record<string, unknown>> = Object.freeze({
  type: "object",
  properties: {
    decision: { type: "string", enum: ["approve", "reject"] },
    comment: { type: "string" },
  },
  required: ["decision"],
});

/**
 * The two forms of an approval gate in workflow run `runId`: the `on_interrupt` CUSTOM event the
 * LangGraph integrations send (CopilotKit's interrupt hooks read it) and the interrupt item of
 * RUN_FINISHED's outcome. `payloadSchema` is the upstream's, if it gave one.
 */
export function approvalInterrupt(
  pending: AguiPendingApproval,
  runId: string,
  payloadSchema: unknown,
): { legacy: AguiEvent; item: AguiInterrupt } {
  const legacy: Record<string, unknown> = {
    interruptId: pending.interruptId,
    runId,
    stepId: pending.stepId,
    message: pending.message,
  };
  if (pending.options) legacy.options = pending.options;
  const schema = withoutNulls(payloadSchema);
  const metadata: AguiInterrupt["metadata"] = { runId, stepId: pending.stepId };
  if (pending.options) metadata.options = pending.options;
  return {
    // The LangGraph integrations send on_interrupt's value as JSON text, and CopilotKit's
    // interrupt hooks parse it as such.
    legacy: { type: "CUSTOM", name: "on_interrupt", value: JSON.stringify(legacy) },
    item: {
      id: pending.interruptId,
      reason: "approval",
      message: pending.message,
      responseSchema: typeof schema === "object" && !Array.isArray(schema)
        ? schema as Record<string, unknown>
        : structuredClone(DEFAULT_RESPONSE_SCHEMA) as Record<string, unknown>,
      metadata,
    },
  };
}

/** Frames one AG-UI event for the wire: `data: <json>\n\n` (LF only, no `id:`/`event:`). */
export function encodeAguiEvent(ev: AguiEvent): string {
  return `data: ${JSON.stringify(ev)}\n\n`;
}
