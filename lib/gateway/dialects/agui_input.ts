/**
 * What an AG-UI client's `POST /agui` body (a `RunAgentInput`) asks the gateway to do: start a
 * workflow run, or resume one that waits on an approval.
 *
 * Run ids. The AG-UI `threadId` is a conversation and every AG-UI run is one POST; a workflow run
 * (the gateway's run log, the upstream `thread_id`) spans the POST that started it and every
 * resume POST after it. So:
 * - the log's run id is the `runId` of the POST that started it (a new conversation turn in the
 *   same thread is a new workflow run);
 * - the interrupt id the gateway hands out is `<logRunId>:<stepId>` ({@link encodeInterruptId}),
 *   so a resume names its run even when the client sends a fresh `runId` (`HttpAgent` does);
 * - when the interrupt id does not decode (a legacy `forwardedProps.command.resume` carries
 *   none), the POST's own `runId` names the run: CopilotKit resumes by reusing the interrupted
 *   run's `runId`, which is the log's run id for the first interrupt of a run.
 * @module
 */
import { z } from "zod";
import { type ErrorBody, GRAPH_NAME_RE, RUN_ID_RE } from "../../events.ts";

const nonNullObject = z.record(z.string(), z.unknown());

/** One answer to an interrupt (AG-UI 1.0 `ResumeEntry`). */
export const resumeEntrySchema = z.looseObject({
  interruptId: z.string().min(1).max(400),
  status: z.enum(["resolved", "cancelled"]),
  payload: z.unknown().optional(),
});
/** A parsed resume entry. */
export type ResumeEntry = z.infer<typeof resumeEntrySchema>;

/**
 * The gateway's own keys inside `forwardedProps`; anything else a client forwards is kept and
 * ignored. A `null` there (some clients send it for "nothing") reads as absent, for every key
 * alike: `graph_name: null` is the default graph and `initial_state: null` the prompt.
 */
export const forwardedPropsSchema = z.looseObject({
  graph_name: z.string().regex(GRAPH_NAME_RE, "lower snake case, 1–64 characters").nullish(),
  initial_state: nonNullObject.nullish(),
  command: z.looseObject({ resume: z.unknown().optional() }).nullish(),
});

/**
 * An AG-UI `RunAgentInput` as `@ag-ui/client` 1.0 and 0.0.x send it. Lenient: unknown keys are
 * kept, `tools`/`context`/`messages` default to empty, `null` reads as absent, and messages are
 * only checked for a `role` (their content is read for the prompt, nothing else).
 */
export const runAgentInputSchema = z.looseObject({
  threadId: z.string().min(1).max(512),
  runId: z.string().min(1).max(512),
  protocolVersion: z.string().nullish(),
  parentRunId: z.string().nullish(),
  messages: z.preprocess(
    (v) => (v === null ? undefined : v),
    z.array(z.looseObject({ role: z.string(), content: z.unknown().optional() })).default([]),
  ),
  state: z.unknown().optional(),
  tools: z.array(z.unknown()).nullish(),
  context: z.array(z.unknown()).nullish(),
  forwardedProps: z.preprocess(
    (v) => (v === null ? undefined : v),
    forwardedPropsSchema.optional(),
  ),
  resume: z.array(resumeEntrySchema).nullish(),
});
/** A parsed `RunAgentInput`. */
export type RunAgentInput = z.infer<typeof runAgentInputSchema>;

/** A decision taken on an approval gate, as the gateway's approval path takes it. */
export interface AguiDecision {
  /**
   * The step waiting for the decision. Absent only for a legacy resume whose value names no step:
   * the gateway then uses the run's `pendingApproval.stepId`.
   */
  stepId?: string;
  /** What was decided. */
  decision: "approve" | "reject";
  /** The decider's comment, if any. */
  comment?: string;
}

/** Start a new workflow run. */
export interface AguiStartPlan {
  /** This plan's kind. */
  kind: "start";
  /** The graph to run. */
  graph_name: string;
  /** The graph's input. */
  initial_state: Record<string, unknown>;
  /** The new log's run id: the POST's `runId`. */
  runId: string;
  /** The AG-UI conversation; echoed in RUN_STARTED / RUN_FINISHED. */
  threadId: string;
  /**
   * True when the client named the graph (`forwardedProps.graph_name`), false when it is the
   * default: attaching to an existing run with another graph is a conflict only when named.
   */
  graphNamed: boolean;
}

/** Resume the run `runId` with a decision. */
export interface AguiResumePlan {
  /** This plan's kind. */
  kind: "resume";
  /** The log's run id (decoded from the interrupt id, else the POST's `runId`). */
  runId: string;
  /** The AG-UI conversation; echoed in RUN_STARTED / RUN_FINISHED. */
  threadId: string;
  /** The POST's own `runId`, which this AG-UI run's RUN_STARTED / RUN_FINISHED must carry. */
  requestRunId: string;
  /** The decision to take. */
  decision: AguiDecision;
  /** Which form asked for it: `resume` entries (AG-UI 1.0) or `forwardedProps.command.resume`. */
  form: "resume" | "legacy";
}

/** A body that cannot be acted on: answer 400 with `error`. */
export interface AguiInvalidInput {
  /** This plan's kind. */
  kind: "invalid";
  /** The 400 answer's body. */
  error: ErrorBody;
}

/** What {@link interpretRunInput} decided. */
export type AguiRunPlan = AguiStartPlan | AguiResumePlan | AguiInvalidInput;

/** The interrupt id of the approval `stepId` of the log run `runId`: `<runId>:<stepId>`. */
export function encodeInterruptId(runId: string, stepId: string): string {
  return `${runId}:${stepId}`;
}

/**
 * Splits an interrupt id made by {@link encodeInterruptId}. Run ids cannot hold `:`, so the first
 * one separates them and a step id may hold more. `undefined` when `id` is not of that form.
 */
export function decodeInterruptId(id: string): { runId: string; stepId: string } | undefined {
  const at = id.indexOf(":");
  if (at <= 0 || at === id.length - 1) return undefined;
  const runId = id.slice(0, at);
  if (!RUN_ID_RE.test(runId)) return undefined;
  return { runId, stepId: id.slice(at + 1) };
}

/** The text of the last user message (string content, or its text parts joined). */
export function lastUserText(messages: RunAgentInput["messages"]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    if (Array.isArray(m.content)) {
      let text = "";
      for (const part of m.content) {
        if (
          typeof part === "object" && part !== null &&
          (part as { type?: unknown }).type === "text" &&
          typeof (part as { text?: unknown }).text === "string"
        ) text += (part as { text: string }).text;
      }
      return text;
    }
    return undefined;
  }
  return undefined;
}

const APPROVE_WORDS = new Set(["approve", "approved", "accept", "accepted", "yes", "true"]);
const REJECT_WORDS = new Set(["reject", "rejected", "deny", "denied", "no", "false"]);

/** A resume payload's reading: a decision, optional comment and step/interrupt hints. */
interface PayloadReading {
  decision: "approve" | "reject";
  comment?: string;
  stepId?: string;
  interruptId?: string;
}

/**
 * Reads a resume payload. Accepted: `{decision: "approve"|"reject", comment?}`, `{approved:
 * boolean, comment?}`, `true`/`false`, and the words approve(d)/accept(ed)/yes or
 * reject(ed)/deny/denied/no in any case; a string holding JSON of one of these (CopilotKit's
 * `resolve()` takes a string) is read once more. An object may also carry `stepId` or
 * `interruptId`, which a legacy resume needs to name its step. Anything else is `undefined`:
 * guessing a decision on an approval gate is worse than a 400.
 */
export function readResumePayload(payload: unknown, depth = 0): PayloadReading | undefined {
  if (typeof payload === "boolean") return { decision: payload ? "approve" : "reject" };
  if (typeof payload === "string") {
    const word = payload.trim().toLowerCase();
    if (APPROVE_WORDS.has(word)) return { decision: "approve" };
    if (REJECT_WORDS.has(word)) return { decision: "reject" };
    if (depth === 0 && /^[[{"]/.test(payload.trim())) {
      try {
        return readResumePayload(JSON.parse(payload), 1);
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
  const p = payload as Record<string, unknown>;
  let decision: "approve" | "reject" | undefined;
  if (p.decision === "approve" || p.decision === "reject") decision = p.decision;
  else if (typeof p.approved === "boolean") decision = p.approved ? "approve" : "reject";
  if (!decision) return undefined;
  const out: PayloadReading = { decision };
  if (typeof p.comment === "string") out.comment = p.comment;
  if (typeof p.stepId === "string" && p.stepId !== "") out.stepId = p.stepId;
  if (typeof p.interruptId === "string" && p.interruptId !== "") out.interruptId = p.interruptId;
  return out;
}

function invalid(message: string, details?: unknown): AguiInvalidInput {
  const error: ErrorBody = { error: "invalid_request", message };
  if (details !== undefined) error.details = details;
  return { kind: "invalid", error };
}

const RUN_ID_RULE = "letters, digits, _ and -, 1–128 characters";

function checkedDecision(d: AguiDecision): AguiDecision | string {
  if (d.stepId !== undefined && (d.stepId.length === 0 || d.stepId.length > 200)) {
    return "the step id must be 1–200 characters";
  }
  if (d.comment !== undefined && d.comment.length > 2000) {
    return "the comment must be at most 2000 characters";
  }
  return d;
}

function resumePlan(
  input: RunAgentInput,
  runId: string,
  decision: AguiDecision,
  form: "resume" | "legacy",
): AguiResumePlan | AguiInvalidInput {
  if (!RUN_ID_RE.test(runId)) {
    return invalid(`the run to resume must be named by a run id (${RUN_ID_RULE})`);
  }
  const checked = checkedDecision(decision);
  if (typeof checked === "string") return invalid(checked);
  return {
    kind: "resume",
    runId,
    threadId: input.threadId,
    requestRunId: input.runId,
    decision: checked,
    form,
  };
}

function fromResumeEntries(input: RunAgentInput, entries: ResumeEntry[]): AguiRunPlan {
  const distinct = new Map(entries.map((e) => [e.interruptId, e]));
  if (distinct.size > 1) {
    return invalid("a run waits on one approval at a time: send one resume entry");
  }
  const entry = entries[0];
  const named = decodeInterruptId(entry.interruptId);
  const runId = named?.runId ?? input.runId;
  const stepId = named?.stepId ?? entry.interruptId;
  if (entry.status === "cancelled") {
    return resumePlan(input, runId, { stepId, decision: "reject" }, "resume");
  }
  // `resolved` with no payload: the client answered the interrupt without saying more, which for
  // an approval gate can only mean yes; a refusal is `cancelled` or an explicit payload.
  if (entry.payload === undefined || entry.payload === null) {
    return resumePlan(input, runId, { stepId, decision: "approve" }, "resume");
  }
  const read = readResumePayload(entry.payload);
  if (!read) {
    return invalid(
      'unrecognised resume payload: send {decision: "approve"|"reject", comment?}, ' +
        '{approved: boolean}, true/false or "approve"/"reject"',
    );
  }
  const decision: AguiDecision = { stepId, decision: read.decision };
  if (read.comment !== undefined) decision.comment = read.comment;
  return resumePlan(input, runId, decision, "resume");
}

function fromLegacyCommand(input: RunAgentInput, value: unknown): AguiRunPlan {
  const read = readResumePayload(value);
  if (!read) {
    return invalid(
      "unrecognised forwardedProps.command.resume: send {decision, comment?, stepId?}, " +
        '{approved: boolean}, true/false or "approve"/"reject"',
    );
  }
  const named = read.interruptId ? decodeInterruptId(read.interruptId) : undefined;
  const runId = named?.runId ?? input.runId;
  const decision: AguiDecision = { decision: read.decision };
  const stepId = named?.stepId ?? read.stepId;
  if (stepId !== undefined) decision.stepId = stepId;
  if (read.comment !== undefined) decision.comment = read.comment;
  return resumePlan(input, runId, decision, "legacy");
}

/**
 * Validates `body` as a `RunAgentInput` and decides what it asks for:
 * - `resume` entries (AG-UI 1.0), else a non-null `forwardedProps.command.resume` (legacy), make
 *   a resume; `cancelled` is a rejection, `resolved` without payload an approval;
 * - anything else starts `forwardedProps.graph_name` (default `defaultGraph`) with
 *   `forwardedProps.initial_state`, or `{prompt: <last user message text>}` when none is given
 *   (`{}` without a user message). The client's `state` is not used: `HttpAgent` sends back the
 *   state of its previous run there, which is this gateway's own snapshot, not an input.
 * Whether a start's `runId` already names a run (attach) is for the caller to check.
 */
export function interpretRunInput(body: unknown, defaultGraph: string): AguiRunPlan {
  const parsed = runAgentInputSchema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 20).map((i) => ({
      path: i.path.map(String).join(".") || "(root)",
      message: i.message,
    }));
    return invalid("Invalid AG-UI RunAgentInput", { issues });
  }
  const input = parsed.data;
  if (input.resume && input.resume.length > 0) return fromResumeEntries(input, input.resume);
  const legacy = input.forwardedProps?.command?.resume;
  if (legacy !== undefined && legacy !== null) return fromLegacyCommand(input, legacy);

  if (!RUN_ID_RE.test(input.runId)) {
    return invalid(`runId becomes the run id: ${RUN_ID_RULE}`);
  }
  const named = input.forwardedProps?.graph_name ?? undefined;
  const graph = named ?? defaultGraph;
  if (!GRAPH_NAME_RE.test(graph)) return invalid(`unknown graph name "${graph}"`);
  let initial = input.forwardedProps?.initial_state;
  if (!initial) {
    const prompt = lastUserText(input.messages);
    initial = prompt === undefined ? {} : { prompt };
  }
  return {
    kind: "start",
    graph_name: graph,
    initial_state: initial,
    runId: input.runId,
    threadId: input.threadId,
    graphNamed: named !== undefined,
  };
}
