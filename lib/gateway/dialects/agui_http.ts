/**
 * `POST /agui` in the AG-UI dialect: a `RunAgentInput` starts a workflow run (or attaches to the
 * run its `runId` names) or resumes an interrupted one, and the answer streams the run log
 * through the AG-UI translator: `data: <json>\n\n` frames, exactly one terminal per AG-UI run.
 * @module
 */
import {
  RUN_ID_RE,
  type RunSummary,
  type StoredEvent,
  UPSTREAM_HEARTBEAT_TYPES,
} from "../../events.ts";
import { ApiError } from "../../http/errors.ts";
import type { Services } from "../../services.ts";
import type { EventEncoder } from "../http.ts";
import { checkSameGraph, streamRun } from "../http.ts";
import type { StreamSlot } from "../streams.ts";
import {
  type AguiResumePlan,
  type AguiStartPlan,
  type AguiTranslator,
  createAguiTranslator,
  encodeAguiEvent,
  interpretRunInput,
} from "./agui.ts";
import { aguiReplayFrom, decisionAfter, findGate } from "./agui_replay.ts";
import { waitingRunOfThread } from "./agui_thread.ts";

/** True when a `POST /agui` body is an AG-UI `RunAgentInput` rather than a workflow-dialect body. */
export function isAguiInput(body: unknown): body is Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  if ("graph_name" in body) return false;
  return "threadId" in body || "runId" in body || "messages" in body;
}

/**
 * Encodes log events through an AG-UI translator. With `ids`, the last frame made from each log
 * event carries that event's sequence number as its SSE `id:` (AG-UI clients read only `data:`
 * lines; a client that reconnects with `Last-Event-ID` resumes after that log event).
 */
export function aguiEncoder(tr: AguiTranslator, ids = false, follow = false): EventEncoder {
  // Following a run across its gates (the events endpoint): an AG-UI run that ended on an
  // interrupt is not the end of the stream; the next event (the decision) opens the next one.
  const paused = () => follow && tr.done && tr.state.status === "waiting_approval";
  const join = (evs: ReturnType<AguiTranslator["push"]>, seq?: number) => {
    let out = "";
    for (let i = 0; i < evs.length; i++) {
      if (seq !== undefined && i === evs.length - 1) out += "id: " + seq + "\n";
      out += encodeAguiEvent(evs[i]);
    }
    return out;
  };
  return {
    encode: (ev: StoredEvent) => {
      if (paused() && !UPSTREAM_HEARTBEAT_TYPES.has(ev.type)) tr.reopen();
      return join(tr.push(ev), ids ? ev.seq : undefined);
    },
    get done() {
      return tr.done && !paused();
    },
    finish: () => join(tr.finish()),
  };
}

function checkRunId(id: string): string {
  if (!RUN_ID_RE.test(id)) {
    throw new ApiError(400, "invalid_request", "runId must be 1–128 letters, digits, _ or -");
  }
  return id;
}

/** Who an AG-UI stream over a run's log answers, and whether frames carry log ids. */
export interface AguiLogStreamOptions {
  /** RUN_STARTED / RUN_FINISHED `threadId`. */
  threadId: string;
  /** RUN_STARTED / RUN_FINISHED `runId`. */
  runId: string;
  /** SSE `id:` lines with log seqs (the events endpoint), so a reconnect resumes. */
  ids?: boolean;
  /** The stream's place under `MAX_STREAMS`, when taken already. */
  slot?: StreamSlot;
}

/**
 * Streams a run's log as one new AG-UI run, for a client that holds the log up to `afterSeq`
 * (an attach, or the events endpoint). The translator is primed with what comes before the
 * stream's start, so it opens with RUN_STARTED and a snapshot rather than deltas against an
 * unknown state. The start is never before the last decided approval gate: replaying a gate
 * already decided would end this AG-UI run on that old interrupt. A client that already holds
 * the gate the run still waits on gets that interrupt at once, not a silent wait for a decision.
 */
export async function streamAguiLog(
  services: Services,
  run: RunSummary,
  afterSeq: number,
  opts: AguiLogStreamOptions,
): Promise<Response> {
  const log = await services.store.read(run.id, 0);
  const from = aguiReplayFrom(log, afterSeq);
  const tr = createAguiTranslator({ threadId: opts.threadId, runId: opts.runId });
  const primed = log.filter((e) => e.seq <= from);
  tr.prime(primed);
  // The events endpoint (ids) follows the run across its gates; a POST's answer is one AG-UI run.
  const enc = aguiEncoder(tr, opts.ids, opts.ids);
  let stillAtGate = false;
  if (primed.length === log.length && tr.state.status === "waiting_approval") {
    // Read after the log, so a run that reached the gate since `run` was read counts too.
    const now = (await services.store.get(run.id)) ?? run;
    stillAtGate = now.status === "waiting_approval" &&
      now.pendingApproval?.stepId === tr.state.pendingApproval?.stepId;
  }
  return streamRun(services, run.id, from, enc, {
    dialect: "agui",
    slot: opts.slot,
    // EventSource clients of the events endpoint reconnect at the gateway's pace.
    ...(opts.ids ? { retryMs: 2_000 } : {}),
    ...(stillAtGate ? { prelude: enc.finish!() } : {}),
  });
}

/** Handles a parsed AG-UI body (validated here). */
export async function handleAguiRun(
  _req: Request,
  body: Record<string, unknown>,
  services: Services,
): Promise<Response> {
  const plan = interpretRunInput(body, services.config.DEFAULT_GRAPH);
  if (plan.kind === "invalid") {
    throw new ApiError(400, plan.error.error, plan.error.message, plan.error.details);
  }
  const runId = checkRunId(plan.runId);
  // The stream's place first: a 503 must not leave a started run or a recorded decision behind.
  const slot = services.streams.reserve();
  try {
    return plan.kind === "start"
      ? await startOrAttach(services, plan, runId, slot)
      : await resume(services, plan, runId, slot);
  } catch (err) {
    slot.release();
    throw err;
  }
}

async function startOrAttach(
  services: Services,
  plan: AguiStartPlan,
  runId: string,
  slot: StreamSlot,
): Promise<Response> {
  let attached: RunSummary | undefined;
  try {
    const { run, created } = await services.gateway.start({
      runId,
      graph: plan.graph_name,
      initialState: plan.initial_state,
      dialect: "agui",
      threadId: plan.threadId,
    });
    if (!created) attached = run;
  } catch (err) {
    // An upstream fault (5xx) is recorded in the run's log: AG-UI clients get it as RUN_ERROR
    // in the stream, where they look for it, rather than as an HTTP failure. Bad input (4xx)
    // stays a JSON error before streaming.
    if (!(err instanceof ApiError) || err.status < 500 || !(await services.store.get(runId))) {
      throw err;
    }
  }
  if (attached) {
    // A graph left to the default is no claim about the run: attach to whatever it runs.
    if (plan.graphNamed) checkSameGraph(attached, plan.graph_name);
    return streamAguiLog(services, attached, 0, {
      threadId: plan.threadId,
      runId: plan.runId,
      slot,
    });
  }
  const tr = createAguiTranslator({ threadId: plan.threadId, runId: plan.runId });
  return streamRun(services, runId, 0, aguiEncoder(tr), { dialect: "agui", slot });
}

/**
 * A resume: find the approval gate in the log, record the decision (unless this is a retry of
 * the same decision, already taken), then stream what follows the gate as a new AG-UI run.
 */
async function resume(
  services: Services,
  plan: AguiResumePlan,
  named: string,
  slot: StreamSlot,
): Promise<Response> {
  // A run id that names no run: the thread's one run waiting on a gate is the one meant.
  const run = (await services.store.get(named)) ??
    (await waitingRunOfThread(services.store, plan.threadId));
  if (!run) throw new ApiError(404, "run_not_found", `No run with id ${named}`);
  const runId = run.id;
  const stepId = plan.decision.stepId ?? run.pendingApproval?.stepId;
  if (!stepId) throw new ApiError(409, "not_waiting", `Run ${runId} is not waiting for approval`);
  let log = await services.store.read(runId, 0);
  let gate = findGate(log, stepId);
  if (gate < 0) throw new ApiError(409, "not_waiting", `Step ${stepId} never waited for approval`);
  const waiting = run.status === "waiting_approval" && run.pendingApproval?.stepId === stepId;
  let recorded = false;
  if (waiting) {
    try {
      await services.gateway.approve(runId, {
        stepId,
        decision: plan.decision.decision,
        ...(plan.decision.comment ? { comment: plan.decision.comment } : {}),
      });
      recorded = true;
    } catch (err) {
      // Another resume may have decided in between: then this one is judged like a retry.
      if (!(err instanceof ApiError) || err.status !== 409) throw err;
      log = await decidedLog(services, runId, stepId);
      gate = findGate(log, stepId);
    }
  }
  if (!recorded && !waiting) {
    // Claimed by another resume a moment ago, perhaps not recorded yet: wait for its record.
    log = await decidedLog(services, runId, stepId);
    gate = findGate(log, stepId);
  }
  if (!recorded) checkRetry(log, gate, stepId, plan.decision.decision);
  const tr = createAguiTranslator({ threadId: plan.threadId, runId: plan.requestRunId });
  tr.prime(log.slice(0, gate + 1));
  return streamRun(services, runId, log[gate].seq, aguiEncoder(tr), { dialect: "agui", slot });
}

/**
 * The run's log once the decision that won a race for `stepId` is in it. The winner claims the
 * gate before it records `approval_resolved` (it first asks the workflow service to resume), so a
 * loser may look in between: it waits for the record, a little, while the run is claimed.
 */
async function decidedLog(
  services: Services,
  runId: string,
  stepId: string,
): Promise<StoredEvent[]> {
  for (let i = 0;; i++) {
    // The status first, then the log: a run seen past "running" has its decision in the log.
    const run = await services.store.get(runId);
    const log = await services.store.read(runId, 0);
    const gate = findGate(log, stepId);
    if (gate < 0 || decisionAfter(log, gate, stepId) || i >= 150) return log;
    if (!run || run.status !== "running") return log;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A resume of a gate no longer waiting is a retry when the log holds the same decision for it
 * (its outcome is replayed). Another decision is a conflict: answering it with the outcome of the
 * decision it contradicts would tell the client its choice was taken.
 * @throws {ApiError} 409 `not_waiting` (never decided) or `decision_conflict`.
 */
function checkRetry(
  log: readonly StoredEvent[],
  gate: number,
  stepId: string,
  decision: string,
): void {
  const taken = gate < 0 ? undefined : decisionAfter(log, gate, stepId);
  if (!taken) throw new ApiError(409, "not_waiting", `Step ${stepId} is not waiting for approval`);
  if (taken.decision !== decision) {
    throw new ApiError(
      409,
      "decision_conflict",
      `Step ${stepId} was already decided: ${taken.decision}`,
      { stepId, decision: taken.decision },
    );
  }
}
