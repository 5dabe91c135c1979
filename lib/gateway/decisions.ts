/**
 * The one approval path. A decision claims the gate with a compare-and-set on the run's summary
 * (of two decisions sent at once, on this process or another, exactly one resumes the workflow),
 * resumes the upstream thread, logs `approval_resolved` and hands the continuation to a pump.
 *
 * `record` is strict (the workflow dialect: anything but the waiting step is 409). `decide` is
 * idempotent (the AG-UI resume): a gate decided already, here or elsewhere, is judged against
 * the decision in the log, waiting for that record on the run's live tail when the winner has
 * claimed the gate but not logged its decision yet. Nothing polls.
 * @module
 */
import type { Decision, RunSummary, StoredEvent } from "../events.ts";
import type { Logger } from "../log.ts";
import { UnexpectedStateError } from "../runs/store.ts";
import { RunClosedError } from "../runs/errors.ts";
import { decisionAfter, type RecordedDecision } from "./dialects/agui_replay.ts";
import {
  asUpstreamError,
  GatewayError,
  notWaiting,
  runNotFound,
  shuttingDown,
  upstreamRefused,
} from "./errors.ts";
import { eventData } from "./records.ts";
import { waitOnTail } from "./tail_wait.ts";
import type { RelayParts } from "./relay_parts.ts";

/** A human decision on one approval gate. */
export interface DecisionInput {
  /** The gate step the decision is for; it must be the one the run waits on. */
  stepId: string;
  /** Whether the gate lets the workflow go on. */
  decision: Decision;
  /** The approver's comment (at most 2000 characters), logged with the decision. */
  comment?: string;
}

/** What {@link Decisions.decide} found: this call's decision recorded, or a retry of one. */
export type DecideResult =
  | { recorded: true; run: RunSummary }
  | { recorded: false; decision: RecordedDecision };

/** What the decision path needs from the gateway around it. */
export interface DecisionDeps extends RelayParts {
  /** Hands a resumed stream to a pump. */
  launch: (
    runId: string,
    graph: string,
    body: ReadableStream<Uint8Array>,
    log: Logger,
    resumedStep: string,
  ) => void;
  /** The longest wait for another caller's decision record (ms; default 3000). */
  waitMs?: number;
}

/** True when `run` waits on the gate of `stepId`. */
export function waitsFor(run: RunSummary, stepId: string): boolean {
  return run.status === "waiting_approval" && run.pendingApproval?.stepId === stepId;
}

/** Records decisions on approval gates. */
export class Decisions {
  readonly #d: DecisionDeps;

  /** Builds the decision path over the gateway's shared parts. */
  constructor(deps: DecisionDeps) {
    this.#d = deps;
  }

  /**
   * Records a decision on the step the run waits on and resumes the workflow; returns the run's
   * summary as of the decision.
   * @throws {GatewayError} `shutting_down`, `run_not_found`, `not_waiting` (another step, or
   *   none), `run_finished`, `upstream_refused` (the gate is then open again).
   */
  async record(runId: string, decision: DecisionInput): Promise<RunSummary> {
    const d = this.#d;
    if (d.closing()) throw shuttingDown();
    const run = await d.store.get(runId);
    if (!run) throw runNotFound(runId);
    const waiting = (s: RunSummary) => waitsFor(s, decision.stepId);
    if (!waiting(run)) throw notWaiting(runId, decision.stepId, run);
    await d.lease.ensureAlive();
    const log = d.logger.child({ run_id: runId, graph: run.graph });
    try {
      await d.store.update(runId, {
        status: "running",
        pendingApproval: undefined,
        relay: d.lease.claim(),
        // Kept until its approval_resolved is logged, so a takeover can send it again.
        decisionInFlight: {
          stepId: decision.stepId,
          decision: decision.decision,
          ...(decision.comment ? { comment: decision.comment } : {}),
        },
      }, { expect: waiting });
    } catch (err) {
      if (err instanceof UnexpectedStateError) {
        throw notWaiting(runId, decision.stepId, err.current);
      }
      throw err;
    }
    const started = d.starting(runId);
    try {
      let body: ReadableStream<Uint8Array>;
      try {
        body = await d.upstream.execute({
          graph_name: run.graph,
          initial_state: {},
          thread_id: runId,
          resume: decision,
        }, d.signal);
      } catch (err) {
        if (d.signal.aborted) throw shuttingDown();
        const e = asUpstreamError(err);
        d.metrics.upstreamErrors.inc({ code: e.code });
        log.error("upstream refused the resume", { code: e.code, error: e.message, body: e.body });
        // The gate is still closed upstream: hand the decision back so it can be made again.
        await d.store.update(runId, {
          status: "waiting_approval",
          pendingApproval: run.pendingApproval,
          decisionInFlight: undefined,
        }).catch((revertErr) => log.warn("could not reopen the approval", { error: revertErr }));
        throw upstreamRefused(e, runId);
      }
      const data = eventData(runId, d.now(), {
        stepId: decision.stepId,
        decision: decision.decision,
        ...(decision.comment ? { comment: decision.comment } : {}),
      });
      let stored: StoredEvent;
      try {
        [stored] = await d.store.append(runId, [{ type: "approval_resolved", data }], {
          decisionInFlight: undefined,
        });
      } catch (err) {
        await body.cancel().catch(() => {});
        if (err instanceof RunClosedError) {
          throw new GatewayError(`Run ${runId} has already finished`, {
            type: "run_finished",
            runId,
          });
        }
        throw err;
      }
      log.info("approval recorded", { step: decision.stepId, decision: decision.decision });
      d.launch(runId, run.graph, body, log, decision.stepId);
      return { ...run, status: "running", pendingApproval: undefined, eventCount: stored.seq };
    } finally {
      started();
    }
  }

  /**
   * Records a decision, or judges a retry: when the gate at `gateSeq` was decided already (or
   * is being decided by another caller right now), the same decision is a retry and the other
   * one a conflict.
   * @throws {GatewayError} as {@link record}, plus `not_waiting` (never decided) and
   *   `decision_conflict` (decided the other way; `details.decision` says how).
   */
  async decide(runId: string, decision: DecisionInput, gateSeq: number): Promise<DecideResult> {
    const { store } = this.#d;
    let run = await store.get(runId);
    if (!run) throw runNotFound(runId);
    if (waitsFor(run, decision.stepId)) {
      try {
        return { recorded: true, run: await this.record(runId, decision) };
      } catch (err) {
        // Another caller decided in between: judge this one like a retry.
        if (!(err instanceof GatewayError)) throw err;
        if (err.type !== "not_waiting" && err.type !== "run_finished") throw err;
      }
      run = await store.get(runId);
    }
    // A run still "running" may have its gate claimed and its decision not logged yet.
    const taken = await this.#decisionAfter(
      runId,
      gateSeq,
      decision.stepId,
      run?.status === "running",
    );
    const { stepId } = decision;
    if (!taken) throw notWaiting(runId, stepId);
    if (taken.decision !== decision.decision) {
      throw new GatewayError(`Step ${stepId} was already decided: ${taken.decision}`, {
        type: "decision_conflict",
        runId,
        details: { stepId, decision: taken.decision },
      });
    }
    return { recorded: false, decision: taken };
  }

  /**
   * The decision logged for `stepId` after `gateSeq`. With `wait`, follows the run's live tail
   * until the decision, the run's end or the deadline; else reads the log once.
   */
  async #decisionAfter(
    runId: string,
    gateSeq: number,
    stepId: string,
    wait: boolean,
  ): Promise<RecordedDecision | undefined> {
    const { store } = this.#d;
    if (!wait) return decisionAfter(await store.read(runId, gateSeq), -1, stepId);
    const waitMs = this.#d.waitMs ?? 3_000;
    return waitOnTail(store, runId, gateSeq, waitMs, (batch) => decisionAfter(batch, -1, stepId));
  }
}
