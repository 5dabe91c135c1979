/**
 * The declarative shape of a built-in workflow: a domain module lists its steps (business tasks
 * and human approval gates) as plain functions, and `runner.ts` turns the list into a LangGraph
 * StateGraph. Keeping the business logic free of LangGraph types makes it unit-testable and cheap
 * to import (the graph catalog is served without loading LangGraph).
 * @module
 */
import type { GraphInfo } from "../events.ts";

/** A JSON object (what steps return and artifacts carry). */
export type JsonObject = Record<string, unknown>;

/** Results of the steps that already ran, by step name. */
export type StepResults = Record<string, JsonObject>;

/** What a step may know about the run besides the state. */
export interface StepContext {
  /** The thread (= workflow) id; part of every generated document number. */
  threadId: string;
  /** The service clock at the moment the step runs. */
  now: Date;
}

/**
 * A document emitted as an `artifact` event. Emitting a name again replaces the earlier version
 * (the console shows the newest one of each name), which is how a document's status moves on.
 */
export interface ArtifactDoc {
  /** Stable document name, e.g. `reservation`. */
  name: string;
  /** The document's fields, as the `artifact` event's `content`. */
  content: JsonObject;
}

/** A business task: a pure function of the extracted input and the earlier results. */
export interface TaskStep<I> {
  /** Tells a task from a gate. */
  kind: "task";
  /**
   * Node name and the `step` of step events; must not be a state key (`input`, `options`,
   * `results`, `decision`, `documents`).
   */
  name: string;
  /** Human label for the UI. */
  title: string;
  /** When set, the step's result is also emitted as an `artifact` with this stable name. */
  artifact?: string;
  /** Computes the step's result; throwing fails the run with `workflow_error`. */
  run(input: I, results: StepResults, ctx: StepContext): JsonObject;
  /**
   * Further documents to emit after the step's result (and its own artifact), e.g. an earlier
   * document with a new status. `results` already holds this step's result.
   */
  documents?(input: I, results: StepResults, ctx: StepContext): ArtifactDoc[];
}

/** A human approval gate: the run pauses with `approval_required` until a decision arrives. */
export interface GateStep<I> {
  /** Tells a gate from a task. */
  kind: "gate";
  /** Node name, the `step` of step events and the `stepId` of the approval. */
  name: string;
  /** Human label for the UI. */
  title: string;
  /** The question shown to the approver, built from what the run knows so far. */
  message(input: I, results: StepResults): string;
  /**
   * Documents to emit when the decision is `reject`, right after the gate's `step_completed`
   * (e.g. a held reservation, now released). `results` holds the gate's decision.
   */
  onReject?(input: I, results: StepResults, ctx: StepContext): ArtifactDoc[];
}

/** One step of a workflow. */
export type StepSpec<I> = TaskStep<I> | GateStep<I>;

/** Options that steer a run for demos and tests, taken from `initial_state` as they are. */
export interface RunOptions {
  /** Name of a step that throws instead of running (exercises the `workflow_error` path). */
  simulateFailure?: string;
}

/** A complete workflow definition. */
export interface WorkflowSpec<I = unknown> {
  /** What `GET /graphs` lists. */
  info: GraphInfo;
  /**
   * Turns `initial_state` (`prompt`, `app_context`) into the typed input. Deterministic given
   * `now`; never throws: missing facts get documented defaults.
   */
  extract(initialState: JsonObject, now: Date): I;
  /** Steps in order; a rejected gate ends the run and skips the rest. */
  steps: StepSpec<I>[];
  /** The `result` of `workflow_complete` when every step ran. */
  summarize(input: I, results: StepResults): JsonObject;
}

/** A gate's decision as it is stored in the graph state. */
export interface GateDecision {
  /** The gate's step name. */
  stepId: string;
  /** Whether the workflow goes on. */
  decision: "approve" | "reject";
  /** The approver's comment, if any. */
  comment?: string;
  /** When the decision was taken (ISO 8601, service clock). */
  decided_at: string;
}
