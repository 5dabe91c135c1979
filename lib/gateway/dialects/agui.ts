/**
 * The AG-UI dialect: turns a run log's workflow events into AG-UI events that `@ag-ui/client`
 * 1.0 and the 0.0.x client CopilotKit pins both accept, and frames them (the mapping table is in
 * docs/architecture.md, "Dialects"). How each event changes the run's AG-UI state (and its
 * status, through the shared reducer) is `agui_apply.ts`; this module decides what goes out.
 *
 * One translator serves one AG-UI run (one POST). It keeps the run's AG-UI state, the steps it
 * has opened and whether the run has ended, so that whatever the log holds it never emits an
 * unknown type, a `null` optional field, an `outcome` other than `interrupt`, anything after a
 * terminal, a STEP_FINISHED without its STEP_STARTED, or RUN_FINISHED while a step is open.
 * @module
 */
import { ERROR_CODES, type StoredEvent, UPSTREAM_HEARTBEAT_TYPES } from "../../events.ts";
import {
  applyWorkflowEvent,
  type EventData,
  logRunIdOf,
  originalOf,
  parseEventData,
  timestampOf,
} from "./agui_apply.ts";
import { type AguiEvent, type AguiRunFinished, approvalInterrupt } from "./agui_events.ts";
import {
  type AguiPendingApproval,
  type AguiRunState,
  initialAguiState,
  StateRecorder,
  withoutNulls,
} from "./agui_state.ts";

export * from "./agui_input.ts";
export * from "./agui_events.ts";
export type {
  AguiApprovalState,
  AguiArtifactState,
  AguiPendingApproval,
  AguiRunState,
  AguiStepState,
  JsonPatchOp,
} from "./agui_state.ts";

/** The ids an AG-UI run's RUN_STARTED / RUN_FINISHED carry: those of the POST it answers. */
export interface AguiTranslatorOptions {
  /** The POST's `threadId`. */
  threadId: string;
  /** The POST's `runId`. */
  runId: string;
}

/** A stateful workflow → AG-UI translator for one AG-UI run. */
export interface AguiTranslator {
  /**
   * Rebuilds the state from events that happened before this AG-UI run (a resume or an attach),
   * emitting nothing: the run's first emission is then RUN_STARTED and a snapshot of that state.
   * @throws {Error} after the first `push` (the client would miss the change).
   */
  prime(events: Iterable<StoredEvent>): void;
  /** The AG-UI events for the next log event; `[]` once the AG-UI run has ended. */
  push(ev: StoredEvent): AguiEvent[];
  /**
   * Ends the AG-UI run when the log has nothing more for it: a run that never started starts
   * (with a snapshot), open steps close, and the run ends as its state says (waiting on an
   * approval: the interrupt; complete: RUN_FINISHED; error/aborted: RUN_ERROR; still running:
   * RUN_ERROR `upstream_ended`). `[]` when the run has already ended.
   */
  finish(): AguiEvent[];
  /**
   * Opens the next AG-UI run on the same state, after this one ended (a stream that follows a
   * workflow run across its approval gates): the next `push` starts with RUN_STARTED and a
   * snapshot, under the same `threadId`/`runId`.
   * @throws {Error} while the current AG-UI run has not ended.
   */
  reopen(): void;
  /** True once RUN_FINISHED or RUN_ERROR went out. */
  readonly done: boolean;
  /** The current state (read only; a copy is what snapshots carry). */
  readonly state: Readonly<AguiRunState>;
}

/** Upstream events the dialect never passes through: each AG-UI run's lifecycle is its own. */
const OWN_TYPES: ReadonlySet<string> = new Set(["RUN_STARTED", "RUN_FINISHED", "RUN_ERROR"]);

/** Creates the translator for one AG-UI run answering the POST `{threadId, runId}`. */
export function createAguiTranslator(opts: AguiTranslatorOptions): AguiTranslator {
  const state = initialAguiState();
  const rec = new StateRecorder(state);
  /** Steps opened with STEP_STARTED in this AG-UI run and not yet finished, in order. */
  const open = new Set<string>();
  let started = false;
  let done = false;
  let pushed = false;
  /**
   * The run's upstream is an AG-UI agent: its own events go out unchanged, and the dialect sends
   * no STATE_DELTA of its own (the client's state is the agent's, from its snapshots).
   */
  let passthrough = false;
  let upstreamSnapshot: unknown;

  /** The state change of one workflow event (shared by prime and push); see agui_apply.ts. */
  const apply = (type: string, data: EventData) =>
    applyWorkflowEvent(state, rec, type, data, opts.runId);

  // --- AG-UI event builders -----------------------------------------------------------------

  function stamp<E extends AguiEvent>(ev: E, ts: number | undefined): E {
    if (ts !== undefined) ev.timestamp = ts;
    return ev;
  }

  function startRun(out: AguiEvent[], ts: number | undefined): void {
    if (started) return;
    started = true;
    // The snapshot replaces whatever the client held, so changes recorded so far are in it.
    rec.take();
    out.push(stamp({ type: "RUN_STARTED", threadId: opts.threadId, runId: opts.runId }, ts));
    const snapshot = passthrough && upstreamSnapshot !== undefined
      ? structuredClone(upstreamSnapshot) as AguiRunState
      : structuredClone(state);
    out.push(stamp({ type: "STATE_SNAPSHOT", snapshot }, ts));
  }

  function flushDelta(out: AguiEvent[], ts: number | undefined): void {
    const delta = rec.take();
    if (delta.length > 0 && !passthrough) out.push(stamp({ type: "STATE_DELTA", delta }, ts));
  }

  function openStep(out: AguiEvent[], step: string, ts: number | undefined): void {
    // A step already open (a loop, a replayed start) is closed first: the clients reject a
    // second STEP_STARTED for an active step.
    if (open.has(step)) closeStep(out, step, ts);
    open.add(step);
    out.push(stamp({ type: "STEP_STARTED", stepName: step }, ts));
  }

  function closeStep(out: AguiEvent[], step: string, ts: number | undefined): void {
    open.delete(step);
    out.push(stamp({ type: "STEP_FINISHED", stepName: step }, ts));
  }

  function closeAllSteps(out: AguiEvent[], ts: number | undefined): void {
    for (const step of [...open]) closeStep(out, step, ts);
  }

  function interrupt(out: AguiEvent[], pending: AguiPendingApproval, data: EventData, ts?: number) {
    closeAllSteps(out, ts);
    const { legacy, item } = approvalInterrupt(
      pending,
      logRunIdOf(data, state, opts.runId),
      data.payloadSchema,
    );
    out.push(stamp(legacy, ts));
    finishRun(out, { outcome: { type: "interrupt", interrupts: [item] } }, ts);
  }

  function finishRun(
    out: AguiEvent[],
    extra: Pick<AguiRunFinished, "result" | "outcome">,
    ts: number | undefined,
  ): void {
    closeAllSteps(out, ts);
    const ev: AguiRunFinished = {
      type: "RUN_FINISHED",
      threadId: opts.threadId,
      runId: opts.runId,
    };
    const result = withoutNulls(extra.result);
    if (result !== undefined) ev.result = result;
    if (extra.outcome) ev.outcome = extra.outcome;
    out.push(stamp(ev, ts));
    done = true;
  }

  function failRun(out: AguiEvent[], message: string, code: string, ts: number | undefined) {
    closeAllSteps(out, ts);
    out.push(stamp({ type: "RUN_ERROR", message, code }, ts));
    done = true;
  }

  function endAsStateSays(out: AguiEvent[], data: EventData, ts: number | undefined): void {
    switch (state.status) {
      case "waiting_approval":
        if (state.pendingApproval) return interrupt(out, state.pendingApproval, data, ts);
        return failRun(out, "the run waits on an unknown approval", ERROR_CODES.upstreamEnded, ts);
      case "complete":
      case "rejected":
        return finishRun(out, { result: state.result }, ts);
      case "error":
        return failRun(
          out,
          state.error?.message ?? "workflow error",
          state.error?.code ?? ERROR_CODES.upstreamError,
          ts,
        );
      case "aborted":
        return failRun(out, "aborted", "aborted", ts);
      default:
        return failRun(
          out,
          "the run's event log ended without a terminal event",
          ERROR_CODES.upstreamEnded,
          ts,
        );
    }
  }

  /** An AG-UI upstream's own event, sent unchanged (after what keeps the stream valid). */
  function passOn(
    original: EventData,
    type: string,
    data: EventData,
    ts: number | undefined,
  ): AguiEvent[] {
    const out: AguiEvent[] = [];
    startRun(out, ts);
    apply(type, data);
    rec.take();
    // The gateway sends its own interrupt (its ids are what a resume through it must name).
    if (original.type === "CUSTOM" && original.name === "on_interrupt") return out;
    if (original.type === "STATE_SNAPSHOT") upstreamSnapshot = original.snapshot;
    const step = typeof original.stepName === "string" ? original.stepName : undefined;
    if (original.type === "STEP_STARTED" && step !== undefined) {
      if (open.has(step)) closeStep(out, step, ts);
      open.add(step);
    }
    if (original.type === "STEP_FINISHED" && step !== undefined) {
      // A step this AG-UI run never saw start (before a resume) gets a synthetic start.
      if (!open.has(step)) out.push(stamp({ type: "STEP_STARTED", stepName: step }, ts));
      open.delete(step);
    }
    out.push(original as unknown as AguiEvent);
    return out;
  }

  // --- the translator --------------------------------------------------------------------------

  return {
    get done() {
      return done;
    },
    get state() {
      return state;
    },

    reopen() {
      if (!done) throw new Error("reopen() needs the current AG-UI run to have ended");
      done = false;
      started = false;
      open.clear();
    },

    prime(events) {
      if (pushed) throw new Error("prime() must come before the first push()");
      for (const ev of events) {
        if (UPSTREAM_HEARTBEAT_TYPES.has(ev.type)) continue;
        const { data } = parseEventData(ev.data);
        const original = originalOf(data);
        if (original) {
          passthrough = true;
          if (original.type === "STATE_SNAPSHOT") upstreamSnapshot = original.snapshot;
        }
        apply(ev.type, data);
      }
      rec.take();
    },

    push(ev) {
      pushed = true;
      if (done || UPSTREAM_HEARTBEAT_TYPES.has(ev.type)) return [];
      const { data, raw } = parseEventData(ev.data);
      const ts = timestampOf(data);
      const out: AguiEvent[] = [];
      const original = originalOf(data);
      if (original) {
        passthrough = true;
        if (!OWN_TYPES.has(String(original.type))) return passOn(original, ev.type, data, ts);
        if (original.type === "RUN_STARTED" && ev.type !== "workflow_initialized") {
          // A later upstream run of the same thread (a resume): this AG-UI run goes on.
          startRun(out, ts);
          return out;
        }
      }

      if (!started && ev.type === "workflow_initialized") {
        apply(ev.type, data);
        startRun(out, ts);
        return out;
      }
      startRun(out, ts);
      const kind = apply(ev.type, data);

      switch (kind) {
        case "initialized":
          flushDelta(out, ts);
          break;
        case "step_started": {
          // applyWorkflowEvent said "step_started": `step` is a non-empty string.
          const step = data.step as string;
          openStep(out, step, ts);
          flushDelta(out, ts);
          break;
        }
        case "step_completed": {
          const step = data.step as string;
          // A completion whose start this AG-UI run never saw (it came before a resume, or the
          // upstream skipped it) gets a synthetic start: STEP_FINISHED needs its STEP_STARTED.
          if (!open.has(step)) openStep(out, step, ts);
          flushDelta(out, ts);
          closeStep(out, step, ts);
          break;
        }
        case "interrupt":
          flushDelta(out, ts);
          interrupt(out, state.pendingApproval!, data, ts);
          break;
        case "complete":
          flushDelta(out, ts);
          finishRun(out, { result: data.result }, ts);
          break;
        case "error":
          flushDelta(out, ts);
          failRun(out, state.error!.message, state.error!.code, ts);
          break;
        case "aborted":
          flushDelta(out, ts);
          failRun(out, "aborted", "aborted", ts);
          break;
        default: {
          flushDelta(out, ts);
          const value = raw !== undefined ? raw : withoutNulls(data) ?? {};
          out.push(stamp({ type: "CUSTOM", name: ev.type, value }, ts));
        }
      }
      return out;
    },

    finish() {
      if (done) return [];
      const out: AguiEvent[] = [];
      startRun(out, undefined);
      flushDelta(out, undefined);
      endAsStateSays(out, {}, undefined);
      return out;
    },
  };
}
