/**
 * Runs the declarative workflows on LangGraph.js: each step becomes a node of a StateGraph, gates
 * pause with `interrupt()` and continue with `Command({resume})`, and a checkpoint saver (Deno KV,
 * or `MemorySaver` for a `:memory:` store) keeps every thread's progress. Step events are written
 * from inside the nodes through a {@link StepJournal} before a node returns, so an event is durable
 * before LangGraph checkpoints the step behind it: after a crash the journal knows which steps
 * finished (their result is reused, nothing runs twice) and which one was cut (it runs again and
 * its `step_started` says `retry: true`). This is the only module that imports LangGraph; the
 * service loads it with a dynamic `import()` on the first run.
 * @module
 */
import {
  Annotation,
  type BaseCheckpointSaver,
  Command,
  END,
  interrupt,
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
  compile(opts: { checkpointer: BaseCheckpointSaver }): CompiledWorkflow;
}

interface Snapshot {
  values: Partial<State>;
  next: string[];
  tasks: Array<{ name: string; interrupts: Array<{ value?: unknown }> }>;
  config?: { configurable?: { checkpoint_id?: string } };
}

interface InvokeOptions {
  configurable: { thread_id: string };
  signal: AbortSignal;
  durability: "sync";
}

interface CompiledWorkflow {
  invoke(input: unknown, options: InvokeOptions): Promise<unknown>;
  getState(config: { configurable: { thread_id: string } }): Promise<Snapshot>;
}

/**
 * Where a thread's step events go, written durably before the node returns. `begin` answers the
 * stored result of a step that already completed (the node then returns it without running).
 */
export interface StepJournal {
  /** A step starts: emits `step_started` (with `retry` when it had started before) unless done. */
  begin(step: string, kind: "task" | "gate"): Promise<JsonObject | undefined>;
  /** A step finished: emits `step_completed` and its documents as `artifact`s, in one write. */
  complete(step: string, result: JsonObject, documents: ArtifactDoc[]): Promise<void>;
}

/** A decision taken at a gate. */
export interface ResumeDecision {
  /** The gate. */
  stepId: string;
  /** What was decided. */
  decision: "approve" | "reject";
  /** The approver's note. */
  comment?: string;
}

/** One execution of a thread: from its start, from a pending gate, or from its last checkpoint. */
export interface RunRequest {
  /** The graph to run. */
  graph: string;
  /** The thread (LangGraph `thread_id`). */
  threadId: string;
  /** The extracted input and run options (a new run; also kept for a recovery). */
  start?: { input: unknown; options: RunOptions };
  /** A resume: the gate's decision. */
  resume?: ResumeDecision;
  /**
   * Go on from the last checkpoint (the process that ran the thread died): `start` restarts a
   * thread that never reached its first checkpoint, and `resume` is the decision already
   * accepted when the gate had not yet taken it.
   */
  recover?: boolean;
  /** Aborting it stops the run between (or inside the delay of) steps. */
  signal: AbortSignal;
  /** Receives the step events. */
  journal: StepJournal;
}

/** How a run segment ended (errors and aborts are thrown). */
export type RunOutcome =
  | { kind: "waiting"; stepId: string; message: string }
  | { kind: "finished"; status: "success" | "rejected"; result: JsonObject };

/** A step threw: carries the step name; `cause` is the original error. */
export class StepFailedError extends Error {
  /** The step that failed, when known. */
  readonly step?: string;
  /** An error naming the failing step, with what it threw as `cause`. */
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
  /** Drops a thread's checkpoints (a finished or evicted thread). */
  forget(threadId: string): Promise<void>;
  /** How many threads hold checkpoints now, when the saver can tell cheaply (MemorySaver). */
  checkpointedThreads(): number | undefined;
}

/** Runtime settings. */
export interface RuntimeOptions {
  /** Delay before each task step (progress the UI can see). */
  stepDelayMs: number;
  /** The clock for timestamps inside documents. */
  now: () => Date;
  /** Where checkpoints go. */
  checkpointer: BaseCheckpointSaver;
}

function buildGraph(
  spec: WorkflowSpec,
  opts: RuntimeOptions,
  journalOf: (threadId: string) => StepJournal,
): CompiledWorkflow {
  const builder = new StateGraph(WorkflowState) as unknown as GraphBuilder;
  const steps = spec.steps;
  steps.forEach((step: StepSpec<unknown>) => {
    if (step.kind === "task") {
      builder.addNode(step.name, async (state, config) => {
        const threadId = config.configurable?.thread_id ?? "";
        const journal = journalOf(threadId);
        const done = await journal.begin(step.name, "task");
        if (done) return { results: { [step.name]: done } };
        await sleep(opts.stepDelayMs, config.signal);
        let result: JsonObject;
        let documents: ArtifactDoc[];
        try {
          if (state.options?.simulateFailure === step.name) {
            throw new Error(`simulated failure in ${step.name}`);
          }
          const ctx = { threadId, now: opts.now() };
          result = step.run(state.input, state.results, ctx);
          documents = [
            ...(step.artifact ? [{ name: step.artifact, content: result }] : []),
            ...(step.documents?.(state.input, { ...state.results, [step.name]: result }, ctx) ??
              []),
          ];
        } catch (err) {
          throw new StepFailedError(step.name, err);
        }
        await journal.complete(step.name, result, documents);
        return { results: { [step.name]: result } };
      });
    } else {
      builder.addNode(step.name, async (state, config) => {
        const threadId = config.configurable?.thread_id ?? "";
        const journal = journalOf(threadId);
        const done = await journal.begin(step.name, "gate");
        if (done) {
          return { results: { [step.name]: done }, decision: done as unknown as GateDecision };
        }
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
            threadId,
            now: opts.now(),
          }) ?? []
          : [];
        await journal.complete(step.name, { ...decision }, documents);
        return { results, decision };
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
  return builder.compile({ checkpointer: opts.checkpointer });
}

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (err instanceof Error && err.name === "AbortError");
}

function pendingGate(snap: Snapshot): { stepId: string; message: string } | undefined {
  const pending = snap.tasks.flatMap((t) => t.interrupts)[0]?.value as
    | { stepId?: unknown; message?: unknown }
    | undefined;
  return pending
    ? { stepId: String(pending.stepId), message: String(pending.message ?? "") }
    : undefined;
}

function resumeCommand(d: ResumeDecision): Command {
  return new Command({
    resume: { decision: d.decision, ...(d.comment !== undefined ? { comment: d.comment } : {}) },
  });
}

/** Compiles every workflow once and returns the engine (one checkpointer for all threads). */
export function createRuntime(
  workflows: ReadonlyMap<string, WorkflowSpec>,
  opts: RuntimeOptions,
): WorkflowRuntime {
  const journals = new Map<string, StepJournal>();
  const journalOf = (threadId: string) => {
    const j = journals.get(threadId);
    if (!j) throw new Error(`no journal for thread ${threadId}`);
    return j;
  };
  const graphs = new Map<string, CompiledWorkflow>();
  for (const [name, spec] of workflows) graphs.set(name, buildGraph(spec, opts, journalOf));

  return {
    async run(req) {
      const spec = workflows.get(req.graph);
      const graph = graphs.get(req.graph);
      if (!spec || !graph) throw new Error(`unknown graph ${req.graph}`);
      const config = { configurable: { thread_id: req.threadId } };
      const fresh = {
        input: req.start?.input ?? {},
        options: req.start?.options ?? {},
        results: {},
      };
      let input: unknown = req.resume ? resumeCommand(req.resume) : fresh;
      if (req.recover) {
        const snap = await graph.getState(config);
        const gate = pendingGate(snap);
        if (!snap.config?.configurable?.checkpoint_id) input = fresh;
        else if (gate && req.resume?.stepId === gate.stepId) input = resumeCommand(req.resume);
        else if (gate) return { kind: "waiting", ...gate };
        else input = null;
      }
      journals.set(req.threadId, req.journal);
      try {
        // Each step's checkpoint is stored before the next step starts, so a crash repeats at
        // most the step it cut (the journal then skips steps it knows are done anyway).
        await graph.invoke(input, { ...config, signal: req.signal, durability: "sync" });
      } catch (err) {
        if (isAbort(err, req.signal)) throw req.signal.reason ?? err;
        if (err instanceof StepFailedError) throw err;
        throw new StepFailedError(undefined, err);
      } finally {
        journals.delete(req.threadId);
      }
      if (req.signal.aborted) throw req.signal.reason;
      const snap = await graph.getState(config);
      const gate = pendingGate(snap);
      if (gate) return { kind: "waiting", ...gate };
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
      await opts.checkpointer.deleteThread(threadId);
    },
    checkpointedThreads() {
      const storage = (opts.checkpointer as { storage?: Record<string, unknown> }).storage;
      return storage ? Object.keys(storage).length : undefined;
    },
  };
}
