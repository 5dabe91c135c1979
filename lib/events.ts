/**
 * The one source of truth for every wire contract: workflow events, the gateway's request bodies
 * and the workflow service contract (docs/architecture.md has the tables). Server code validates
 * with these schemas; the browser imports only their types (`import type`), so zod never ships.
 * @module
 */
import { z } from "zod";
import { RUN_STATUSES, type RunStatus, type WorkflowEventType } from "./event_names.ts";

export * from "./event_names.ts";

/** Graph names: lower snake case, 1–64 characters. */
export const GRAPH_NAME_RE = /^[a-z][a-z0-9_]{0,63}$/;
/** Run ids: letters, digits, `_` and `-`, 1–128 characters (also used as upstream thread ids). */
export const RUN_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

const json = z.record(z.string(), z.unknown());
/** Timestamps: ISO 8601 text (what we emit) or epoch milliseconds (tolerated from upstreams). */
const ts = z.union([z.string().min(1), z.number()]);
const base = { workflowId: z.string().min(1), ts };

/** Data schemas of the known workflow events; unknown fields are kept (forward compatible). */
export const eventDataSchemas = {
  workflow_initialized: z.looseObject({ ...base, graph: z.string().min(1) }),
  workflow_reconnecting: z.looseObject({
    ...base,
    attempt: z.number().int().min(1),
    maxRetries: z.number().int().min(1),
  }),
  step_started: z.looseObject({ ...base, step: z.string().min(1), retry: z.boolean().optional() }),
  step_completed: z.looseObject({ ...base, step: z.string().min(1), result: z.unknown() }),
  approval_required: z.looseObject({
    ...base,
    stepId: z.string().min(1),
    message: z.string(),
    options: z.array(z.string()).optional(),
    payloadSchema: json.optional(),
  }),
  approval_resolved: z.looseObject({
    ...base,
    stepId: z.string().min(1),
    decision: z.enum(["approve", "reject"]),
    comment: z.string().optional(),
  }),
  artifact: z.looseObject({
    ...base,
    name: z.string().min(1),
    mime: z.string().min(1),
    content: z.unknown(),
  }),
  workflow_complete: z.looseObject({ ...base, status: z.string().min(1), result: z.unknown() }),
  workflow_error: z.looseObject({
    ...base,
    message: z.string(),
    retries: z.number().int().min(0),
    code: z.string().min(1),
  }),
  workflow_aborted: z.looseObject({ ...base }),
} satisfies Record<WorkflowEventType, z.ZodType>;

/** Data of a known event type, as the schemas define it. */
export type EventData<T extends WorkflowEventType> = z.infer<typeof eventDataSchemas[T]>;

/** Any event: a type and its JSON data. Unknown types carry any JSON object. */
export interface WorkflowEvent {
  /** The SSE `event:` name. */
  type: string;
  /** The parsed `data:` JSON. */
  data: Record<string, unknown>;
}

/** An event as the run log stores and replays it: a sequence number and the data's JSON text. */
export interface StoredEvent {
  /** 1-based position in the run; the SSE `id:`. */
  seq: number;
  /** The event type. */
  type: string;
  /** The data as JSON text (kept as text so replay never re-serializes). */
  data: string;
}

/** The result of validating one upstream frame. */
export type EventCheck =
  | { ok: true; event: WorkflowEvent; known: boolean }
  | { ok: false; reason: string };

/**
 * What an upstream event name may be: a letter, then up to 63 letters, digits, `_`, `.`, `:` or
 * `-`. The workflow vocabulary is snake_case; unknown names pass through to clients and into the
 * run log's keys and pages, so they are bounded like any other field.
 */
export const EVENT_TYPE_RE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/** An upstream event name ({@link EVENT_TYPE_RE}). */
export const eventTypeSchema: z.ZodString = z.string().regex(EVENT_TYPE_RE, "an event name");

/**
 * Validates one event: the name must be an event name ({@link EVENT_TYPE_RE}); the data must be a
 * JSON object; a known type must match its schema; an unknown type passes as it is (forward
 * compatibility).
 */
export function checkEvent(type: string, dataText: string): EventCheck {
  if (!eventTypeSchema.safeParse(type).success) {
    return { ok: false, reason: `event name is not one (${type.length} characters)` };
  }
  let data: unknown;
  try {
    data = JSON.parse(dataText);
  } catch {
    return { ok: false, reason: "data is not JSON" };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { ok: false, reason: "data is not a JSON object" };
  }
  const schema = (eventDataSchemas as Record<string, z.ZodType>)[type];
  if (!schema) {
    return { ok: true, event: { type, data: data as Record<string, unknown> }, known: false };
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    return {
      ok: false,
      reason: `${type}: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`,
    };
  }
  return { ok: true, event: { type, data: parsed.data as Record<string, unknown> }, known: true };
}

const HOT_FIELDS: Readonly<Record<string, string>> = {
  step_started: "step",
  step_completed: "step",
  workflow_initialized: "graph",
};

/**
 * The hot event types checked by hand, without zod (which cost more than everything else per
 * frame): returns a passing check only when the data surely matches its schema above (this test
 * is stricter, never looser); null sends the frame to {@link checkEvent}, which also words the
 * reason of a failure.
 */
export function quickCheck(
  type: string,
  dataText: string,
): { ok: true; event: WorkflowEvent; known: true } | null {
  const field = HOT_FIELDS[type];
  if (field === undefined) return null;
  let d: unknown;
  try {
    d = JSON.parse(dataText);
  } catch {
    return null;
  }
  if (typeof d !== "object" || d === null || Array.isArray(d)) return null;
  const o = d as Record<string, unknown>;
  const wf = o.workflowId;
  const ts = o.ts;
  const v = o[field];
  if (typeof wf !== "string" || wf === "") return null;
  if (!(typeof ts === "string" ? ts !== "" : typeof ts === "number" && Number.isFinite(ts))) {
    return null;
  }
  if (typeof v !== "string" || v === "") return null;
  if (type === "step_completed" && !("result" in o)) return null;
  return { ok: true, event: { type, data: o }, known: true };
}

// ---------------------------------------------------------------------------------------------
// Gateway request bodies

/** `POST /agui`, workflow dialect. */
export const startRunSchema: z.ZodObject<{
  graph_name: z.ZodString;
  initial_state: z.ZodRecord<z.ZodString, z.ZodUnknown>;
  run_id: z.ZodOptional<z.ZodString>;
}> = z.object({
  graph_name: z.string().regex(GRAPH_NAME_RE, "lower snake case, 1–64 characters"),
  initial_state: json,
  run_id: z.string().regex(RUN_ID_RE, "letters, digits, _ and -, 1–128 characters").optional(),
});
/** A parsed `POST /agui` workflow-dialect body. */
export type StartRunRequest = z.infer<typeof startRunSchema>;

/** A human decision on an approval gate. */
export const decisionSchema: z.ZodEnum<{ approve: "approve"; reject: "reject" }> = z.enum([
  "approve",
  "reject",
]);
/** `approve` or `reject`. */
export type Decision = z.infer<typeof decisionSchema>;

/** `POST /agui/runs/:id/approval`. */
export const approvalSchema: z.ZodObject<{
  stepId: z.ZodString;
  decision: typeof decisionSchema;
  comment: z.ZodOptional<z.ZodString>;
}> = z.object({
  stepId: z.string().min(1).max(200),
  decision: decisionSchema,
  comment: z.string().max(2000).optional(),
});
/** A parsed approval body. */
export type ApprovalRequest = z.infer<typeof approvalSchema>;

// ---------------------------------------------------------------------------------------------
// Workflow service contract

/** `POST /execute` on the workflow service. */
export const executeSchema: z.ZodObject<{
  graph_name: z.ZodString;
  initial_state: z.ZodDefault<z.ZodRecord<z.ZodString, z.ZodUnknown>>;
  thread_id: z.ZodString;
  resume: z.ZodOptional<typeof approvalSchema>;
}> = z.object({
  graph_name: z.string().regex(GRAPH_NAME_RE),
  initial_state: json.default({}),
  thread_id: z.string().regex(RUN_ID_RE),
  resume: approvalSchema.optional(),
});
/** A parsed `/execute` body. */
export type ExecuteRequest = z.infer<typeof executeSchema>;

/** `POST /abort` on the workflow service. */
export const abortSchema: z.ZodObject<{ thread_id: z.ZodString }> = z.object({
  thread_id: z.string().regex(RUN_ID_RE),
});

/** One entry of `GET /graphs`. */
export const graphInfoSchema: z.ZodObject<{
  name: z.ZodString;
  title: z.ZodString;
  domain: z.ZodString;
  description: z.ZodString;
  example_prompt: z.ZodOptional<z.ZodString>;
}> = z.object({
  name: z.string().regex(GRAPH_NAME_RE),
  title: z.string(),
  domain: z.string(),
  description: z.string(),
  example_prompt: z.string().optional(),
});
/** A graph the workflow service offers. */
export type GraphInfo = z.infer<typeof graphInfoSchema>;

/** `GET /graphs` answer. */
export const graphListSchema: z.ZodObject<{ graphs: z.ZodArray<typeof graphInfoSchema> }> = z
  .object({ graphs: z.array(graphInfoSchema) });

// ---------------------------------------------------------------------------------------------
// Run summaries

/** The dialect a run was started with; its resume endpoint serves the same one. */
export type Dialect = "workflow" | "agui";

/** A run's status. */
export const runStatusSchema: z.ZodEnum<{ [K in RunStatus]: K }> = z.enum(RUN_STATUSES);

/** A run's summary as `GET /agui/runs/:id` returns it and the run log stores it. */
export interface RunSummary {
  /** The run id. */
  id: string;
  /** The graph the run executes. */
  graph: string;
  /** The dialect the run was started with. */
  dialect: Dialect;
  /** Where the run is. */
  status: RunStatus;
  /** When the run was created (ISO 8601). */
  createdAt: string;
  /** When the summary last changed (ISO 8601). */
  updatedAt: string;
  /** When the run reached a final status (ISO 8601). */
  finishedAt?: string;
  /** The head sequence number: how many events the run holds. */
  eventCount: number;
  /** The open gate: its step, question, opening time (ISO 8601) and offered options. */
  pendingApproval?: { stepId: string; message: string; since: string; options?: string[] };
  /**
   * A decision accepted on the open gate but not yet logged as `approval_resolved` (its relay
   * may die before the workflow service gets it): a takeover sends it again instead of losing it.
   */
  decisionInFlight?: { stepId: string; decision: Decision; comment?: string };
  /** Why the run failed, set when the status is `error`. */
  error?: { code: string; message: string };
  /** The prompt, for lists (truncated). */
  prompt?: string;
  /** AG-UI runs: the conversation (`threadId`) the run belongs to, echoed in its events. */
  threadId?: string;
  /**
   * Which gateway process reads the run's upstream stream (`leaseUntil`: that process's lease
   * when it claimed the run). What counts is the process's own lease, renewed as long as it
   * lives (`RunStore.relayAliveUntil`): a running run whose relay's lease has lapsed has lost its
   * relay (the process died or was evicted).
   */
  relay?: { owner: string; leaseUntil: number };
  /**
   * The workflow service's own id (`id:`) of the last logged event that carried one, committed
   * with that event: a relay that takes the run over rejoins the upstream after it.
   */
  lastUpstreamId?: string;
  /**
   * SHA-256 digests of the start input (the prompt, and the rest of `initial_state`), so a start
   * that reuses the run id with another input is refused (`lib/gateway/start_input.ts`).
   */
  inputDigest?: { state: string; prompt?: string };
}

/** The JSON error body every endpoint answers with. */
export interface ErrorBody {
  /** Short machine-readable code (`bad_request`, `invalid_request` …). */
  error: string;
  /** What went wrong, for a person. */
  message: string;
  /** Optional structured details (validation issues …). */
  details?: unknown;
}
