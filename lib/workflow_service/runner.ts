/**
 * Runs the declarative workflows on LangGraph.js: each step becomes a node of a StateGraph, gates
 * pause with `interrupt()` and continue with `Command({resume})`, a MemorySaver keeps every
 * thread's checkpoints, and `streamMode: "tasks"` start/end records become `step_started` /
 * `step_completed` (+ `artifact`). This is the only module that imports LangGraph; the service
 * loads it with a dynamic `import()` on the first run.
 * @module
 */
import {
  Annotation,
  Command,
  END,
  interrupt,
  MemorySaver,
  START,
  StateGraph,
} from "@langchain/langgraph";
import { sleep } from "./sleep.ts";
import type {
  ArtifactDoc,
  GateDecision,
  JsonObject,
  RunOptions,
  StepResults,
  StepSpec,
  WorkflowSpec,
} from "./spec.ts";

const WorkflowState = Annotation.Root({
  input: Annotation<unknown>,
  options: Annotation<RunOptions>,
  results: Annotation<StepResults>({
    reducer: (a, b) => ({ ...a, ...b }),
    default: () => ({}),
  }),
  decision: Annotation<GateDecision | undefined>,
  // Extra documents a node emits (a status change of an earlier document). Read from the node's
  // own update in the task end record, so an older value left in the state is never re-sent.
  documents: Annotation<ArtifactDoc[] | undefined>,
});

type State = typeof WorkflowState.State;

/** What a node receives as its second argument (the part we use). */
interface NodeConfig {
  signal?: AbortSignal;
  configurable?: { thread_id?: string };
}

type NodeFn = (state: State, config: NodeConfig) => Promise<Partial<State>> | Partial<State>;

/**
 * The builder surface we use. Node names come from data, which LangGraph's literal-typed builder
 * cannot express, so the builder is seen through this narrow interface.
 */
interface GraphBuilder {
  addNode(name: string, fn: NodeFn): GraphBuilder;
  addEdge(from: string, to: string): GraphBuilder;
  addConditionalEdges(from: string, route: (state: State) => string, ends: string[]): GraphBuilder;
  compile(opts: { checkpointer: MemorySaver }): CompiledWorkflow;
}

/** A `tasks` stream record: a start (`input`) or an end (`result`, `interrupts`, `error`). */
interface TaskRecord {
  id: string;
  name: string;
  input?: unknown;
  result?: Partial<State>;
  interrupts?: Array<{ id?: string; value?: unknown }>;
  error?: unknown;
}

interface Snapshot {
  values: Partial<State>;
  next: string[];
  tasks: Array<{ name: string; interrupts: Array<{ value?: unknown }> }>;
}

interface StreamOptions {
  configurable: { thread_id: string };
  streamMode: "tasks";
  signal: AbortSignal;
}

interface CompiledWorkflow {
  stream(input: unknown, options: StreamOptions): Promise<AsyncIterable<TaskRecord>>;
  getState(config: { configurable: { thread_id: string } }): Promise<Snapshot>;
}

/** A step-level event the runner reports; the service adds `workflowId` and `ts`. */
export type StepEvent =
  | { type: "step_started"; data: { step: string } }
  | { type: "step_completed"; data: { step: string; result: JsonObject } }
  | { type: "artifact"; data: { name: string; mime: "application/json"; content: JsonObject } };

/** One execution of a thread, from its start or from a pending gate. */
export interface RunRequest {
  graph: string;
  threadId: string;
  /** A new run: the extracted input and run options. */
  start?: { input: unknown; options: RunOptions };
  /** A resume: the gate's decision. */
  resume?: { stepId: string; decision: "approve" | "reject"; comment?: string };
  /** Aborting it stops the run between (or inside the delay of) steps. */
  signal: AbortSignal;
  /** Receives step events in order, synchronously. */
  onEvent(event: StepEvent): void;
}

/** How a run segment ended (errors and aborts are thrown). */
export type RunOutcome =
  | { kind: "waiting"; stepId: string; message: string }
  | { kind: "finished"; status: "success" | "rejected"; result: JsonObject };

/** A step threw: carries the step name; `cause` is the original error. */
export class StepFailedError extends Error {
  /** The step that failed, when known. */
  readonly step?: string;
  constructor(step: string | undefined, cause: unknown) {
    super(
      `${step ? `step ${step} failed: ` : ""}${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "StepFailedError";
    this.step = step;
  }
}

/** The LangGraph-backed engine behind the service. */
export interface WorkflowRuntime {
  /** Runs a thread until it pauses at a gate or finishes; throws on failure or abort. */
  run(req: RunRequest): Promise<RunOutcome>;
  /** Drops a thread's checkpoints (eviction). */
  forget(threadId: string): Promise<void>;
  /** How many threads hold checkpoints now (running or waiting ones should; finished none). */
  checkpointedThreads(): number;
}

/** Runtime settings. */
export interface RuntimeOptions {
  /** Delay before each task step (progress the UI can see). */
  stepDelayMs: number;
  /** The clock for timestamps inside documents. */
  now: () => Date;
}

function buildGraph(
  spec: WorkflowSpec,
  opts: RuntimeOptions,
  checkpointer: MemorySaver,
): CompiledWorkflow {
  const builder = new StateGraph(WorkflowState) as unknown as GraphBuilder;
  const steps = spec.steps;
  steps.forEach((step: StepSpec<unknown>) => {
    if (step.kind === "task") {
      builder.addNode(step.name, async (state, config) => {
        await sleep(opts.stepDelayMs, config.signal);
        if (state.options?.simulateFailure === step.name) {
          throw new Error(`simulated failure in ${step.name}`);
        }
        const ctx = { threadId: config.configurable?.thread_id ?? "", now: opts.now() };
        const result = step.run(state.input, state.results, ctx);
        const results = { [step.name]: result };
        const documents = step.documents?.(state.input, { ...state.results, ...results }, ctx);
        return documents?.length ? { results, documents } : { results };
      });
    } else {
      builder.addNode(step.name, (state, config) => {
        // Before the decision exists this throws LangGraph's interrupt; on resume it returns it.
        const answer = interrupt({
          stepId: step.name,
          message: step.message(state.input, state.results),
        }) as { decision?: unknown; comment?: unknown };
        const decision: GateDecision = {
          stepId: step.name,
          decision: answer?.decision === "reject" ? "reject" : "approve",
          decided_at: opts.now().toISOString(),
        };
        if (typeof answer?.comment === "string") decision.comment = answer.comment;
        const results = { [step.name]: { ...decision } };
        const documents = decision.decision === "reject"
          ? step.onReject?.(state.input, { ...state.results, ...results }, {
            threadId: config.configurable?.thread_id ?? "",
            now: opts.now(),
          })
          : undefined;
        return documents?.length ? { results, decision, documents } : { results, decision };
      });
    }
  });
  builder.addEdge(START, steps[0].name);
  steps.forEach((step, i) => {
    const next = steps[i + 1]?.name ?? END;
    if (step.kind === "gate") {
      builder.addConditionalEdges(
        step.name,
        (state) => state.decision?.decision === "reject" ? END : next,
        [next, END],
      );
    } else {
      builder.addEdge(step.name, next);
    }
  });
  return builder.compile({ checkpointer });
}

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (err instanceof Error && err.name === "AbortError");
}

/** Compiles every workflow once and returns the engine (one MemorySaver for all threads). */
export function createRuntime(
  workflows: ReadonlyMap<string, WorkflowSpec>,
  opts: RuntimeOptions,
): WorkflowRuntime {
  const checkpointer = new MemorySaver();
  const graphs = new Map<string, CompiledWorkflow>();
  for (const [name, spec] of workflows) graphs.set(name, buildGraph(spec, opts, checkpointer));

  return {
    async run(req) {
      const spec = workflows.get(req.graph);
      const graph = graphs.get(req.graph);
      if (!spec || !graph) throw new Error(`unknown graph ${req.graph}`);
      const artifacts = new Map<string, string>();
      for (const s of spec.steps) {
        if (s.kind === "task" && s.artifact) artifacts.set(s.name, s.artifact);
      }
      const config = { configurable: { thread_id: req.threadId } };
      const input = req.resume
        ? new Command({
          resume: {
            decision: req.resume.decision,
            ...(req.resume.comment !== undefined ? { comment: req.resume.comment } : {}),
          },
        })
        : { input: req.start?.input ?? {}, options: req.start?.options ?? {}, results: {} };
      // The resumed gate starts again inside LangGraph; its step_started was already sent.
      let resumed = req.resume?.stepId;
      let current: string | undefined;
      try {
        const stream = await graph.stream(input, {
          ...config,
          streamMode: "tasks",
          signal: req.signal,
        });
        for await (const rec of stream) {
          if (req.signal.aborted) break;
          if ("input" in rec) {
            current = rec.name;
            if (resumed === rec.name) {
              resumed = undefined;
              continue;
            }
            req.onEvent({ type: "step_started", data: { step: rec.name } });
            continue;
          }
          if (rec.error || (rec.interrupts?.length ?? 0) > 0) continue;
          const result = (rec.result?.results?.[rec.name] ?? {}) as JsonObject;
          req.onEvent({ type: "step_completed", data: { step: rec.name, result } });
          const artifact = artifacts.get(rec.name);
          const docs = [
            ...(artifact ? [{ name: artifact, content: result }] : []),
            ...(rec.result?.documents ?? []),
          ];
          for (const doc of docs) {
            req.onEvent({
              type: "artifact",
              data: { name: doc.name, mime: "application/json", content: doc.content },
            });
          }
          current = undefined;
        }
      } catch (err) {
        if (isAbort(err, req.signal)) throw req.signal.reason ?? err;
        throw new StepFailedError(current, err);
      }
      if (req.signal.aborted) throw req.signal.reason;
      const snap = await graph.getState(config);
      const pending = snap.tasks.flatMap((t) => t.interrupts)[0]?.value as
        | { stepId?: unknown; message?: unknown }
        | undefined;
      if (pending) {
        return {
          kind: "waiting",
          stepId: String(pending.stepId),
          message: String(pending.message ?? ""),
        };
      }
      const results = snap.values.results ?? {};
      const decision = snap.values.decision;
      if (decision?.decision === "reject") {
        const done = spec.steps.map((s) => s.name).filter((n) => n in results);
        return {
          kind: "finished",
          status: "rejected",
          result: {
            rejected_at: decision.stepId,
            ...(decision.comment !== undefined ? { comment: decision.comment } : {}),
            completed_steps: done,
            skipped_steps: spec.steps.map((s) => s.name).filter((n) => !(n in results)),
          },
        };
      }
      return {
        kind: "finished",
        status: "success",
        result: spec.summarize(snap.values.input, results),
      };
    },
    async forget(threadId) {
      await checkpointer.deleteThread(threadId);
    },
    checkpointedThreads() {
      return Object.keys(checkpointer.storage).length;
    },
  };
}
