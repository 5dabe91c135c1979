/**
 * `POST /agui` in the AG-UI dialect: a `RunAgentInput` starts a workflow run (or attaches to the
 * run its `runId` names) or resumes an interrupted one, and the answer streams the run log
 * through the AG-UI translator: `data: <json>\n\n` frames, exactly one terminal per AG-UI run.
 * @module
 */
import { checkSameStart } from "../start_input.ts";
import {
  RUN_ID_RE,
  type RunSummary,
  type StoredEvent,
  UPSTREAM_HEARTBEAT_TYPES,
} from "../../events.ts";
import { ApiError } from "../../http/errors.ts";
import type { RunStore } from "../../runs/store.ts";
import { type ClientStreamDeps, type EventEncoder, streamRun } from "../client_stream.ts";
import { checkSameGraph, notWaiting, runNotFound } from "../errors.ts";
import { rethrowHttp, toApiError } from "../http_errors.ts";
import type { Gateway } from "../relay.ts";
import type { StreamSlot } from "../streams.ts";
import {
  type AguiResumePlan,
  type AguiStartPlan,
  type AguiTranslator,
  createAguiTranslator,
  encodeAguiEvent,
  interpretRunInput,
} from "./agui.ts";
import { aguiReplayFrom, findGate } from "./agui_replay.ts";
import { waitingRunOfThread } from "./agui_thread.ts";

/** What an AG-UI request needs. */
export interface AguiDeps extends ClientStreamDeps {
  /** The run feed, plus starting runs and deciding gates (an AG-UI resume). */
  gateway: ClientStreamDeps["gateway"] & Pick<Gateway, "start" | "decide">;
  /** The run log: summaries, events and the runs of a conversation (`threadId`). */
  store: Pick<RunStore, "get" | "read" | "listByThread">;
  /** Stream settings, plus the graph a `RunAgentInput` runs when it names none. */
  config: ClientStreamDeps["config"] & { DEFAULT_GRAPH: string };
}

/** True when a `POST /agui` body is an AG-UI `RunAgentInput` rather than a workflow-dialect body. */
export function isAguiInput(body: unknown): body is Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  if ("graph_name" in body) return false;
  return "threadId" in body || "runId" in body || "messages" in body;
}

/** See {@link aguiEncoder}. A class: every open AG-UI stream holds one (no closures per stream). */
class AguiEncoder implements EventEncoder {
  readonly #tr: AguiTranslator;
  readonly #ids: boolean;
  readonly #follow: boolean;
  constructor(tr: AguiTranslator, ids: boolean, follow: boolean) {
    this.#tr = tr;
    this.#ids = ids;
    this.#follow = follow;
  }

  /**
   * Following a run across its gates (the events endpoint): an AG-UI run that ended on an
   * interrupt is not the end of the stream; the next event (the decision) opens the next one.
   */
  #paused(): boolean {
    return this.#follow && this.#tr.done && this.#tr.state.status === "waiting_approval";
  }

  #join(evs: ReturnType<AguiTranslator["push"]>, seq?: number): string {
    let out = "";
    for (let i = 0; i < evs.length; i++) {
      if (seq !== undefined && i === evs.length - 1) out += "id: " + seq + "\n";
      out += encodeAguiEvent(evs[i]);
    }
    return out;
  }

  encode(ev: StoredEvent): string {
    if (this.#paused() && !UPSTREAM_HEARTBEAT_TYPES.has(ev.type)) this.#tr.reopen();
    return this.#join(this.#tr.push(ev), this.#ids ? ev.seq : undefined);
  }

  get done(): boolean {
    return this.#tr.done && !this.#paused();
  }

  finish(): string {
    return this.#join(this.#tr.finish());
  }
}

/**
 * Encodes log events through an AG-UI translator. With `ids`, the last frame made from each log
 * event carries that event's sequence number as its SSE `id:` (AG-UI clients read only `data:`
 * lines; a client that reconnects with `Last-Event-ID` resumes after that log event).
 */
export function aguiEncoder(tr: AguiTranslator, ids = false, follow = false): EventEncoder {
  return new AguiEncoder(tr, ids, follow);
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
  deps: ClientStreamDeps & { store: Pick<RunStore, "get" | "read"> },
  run: RunSummary,
  afterSeq: number,
  opts: AguiLogStreamOptions,
): Promise<Response> {
  const log = await deps.store.read(run.id, 0);
  const from = aguiReplayFrom(log, afterSeq);
  const tr = createAguiTranslator({ threadId: opts.threadId, runId: opts.runId });
  const primed = log.filter((e) => e.seq <= from);
  tr.prime(primed);
  // The events endpoint (ids) follows the run across its gates; a POST's answer is one AG-UI run.
  const enc = aguiEncoder(tr, opts.ids, opts.ids);
  let stillAtGate = false;
  if (primed.length === log.length && tr.state.status === "waiting_approval") {
    // Read after the log, so a run that reached the gate since `run` was read counts too.
    const now = (await deps.store.get(run.id)) ?? run;
    stillAtGate = now.status === "waiting_approval" &&
      now.pendingApproval?.stepId === tr.state.pendingApproval?.stepId;
  }
  return streamRun(deps, run.id, from, enc, {
    dialect: "agui",
    slot: opts.slot,
    // EventSource clients of the events endpoint reconnect at the gateway's pace.
    ...(opts.ids ? { retryMs: 2_000 } : {}),
    ...(stillAtGate ? { prelude: enc.finish!() } : {}),
  });
}

/** Handles a parsed AG-UI body (validated here). */
export async function handleAguiRun(
  body: Record<string, unknown>,
  deps: AguiDeps,
): Promise<Response> {
  const plan = interpretRunInput(body, deps.config.DEFAULT_GRAPH);
  if (plan.kind === "invalid") {
    throw new ApiError(400, plan.error.error, plan.error.message, plan.error.details);
  }
  const runId = checkRunId(plan.runId);
  // The stream's place first: a 503 must not leave a started run or a recorded decision behind.
  const slot = deps.streams.reserve();
  try {
    return plan.kind === "start"
      ? await startOrAttach(deps, plan, runId, slot)
      : await resume(deps, plan, runId, slot);
  } catch (err) {
    slot.release();
    rethrowHttp(err);
  }
}

async function startOrAttach(
  deps: AguiDeps,
  plan: AguiStartPlan,
  runId: string,
  slot: StreamSlot,
): Promise<Response> {
  let attached: RunSummary | undefined;
  try {
    const { run, created } = await deps.gateway.start({
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
    const http = toApiError(err);
    if (!(http instanceof ApiError) || http.status < 500 || !(await deps.store.get(runId))) {
      throw http;
    }
  }
  if (attached) {
    // A graph left to the default is no claim about the run, and neither is an empty input (a
    // client that reattaches to watch): attach to whatever it runs. Any input given must match.
    const claimsInput = Object.keys(plan.initial_state).length > 0;
    if (claimsInput) {
      await checkSameStart(
        attached,
        plan.graphNamed ? plan.graph_name : undefined,
        plan.initial_state,
      );
    } else if (plan.graphNamed) checkSameGraph(attached, plan.graph_name);
    return streamAguiLog(deps, attached, 0, { threadId: plan.threadId, runId: plan.runId, slot });
  }
  const tr = createAguiTranslator({ threadId: plan.threadId, runId: plan.runId });
  return streamRun(deps, runId, 0, aguiEncoder(tr), { dialect: "agui", slot });
}

/**
 * A resume: find the approval gate in the log, then decide through the gateway's one decision
 * path (which judges a retry of the same decision as fine and another one as a conflict), then
 * stream what follows the gate as a new AG-UI run.
 */
async function resume(
  deps: AguiDeps,
  plan: AguiResumePlan,
  named: string,
  slot: StreamSlot,
): Promise<Response> {
  // A run id that names no run: the thread's one run waiting on a gate is the one meant.
  const run = (await deps.store.get(named)) ??
    (await waitingRunOfThread(deps.store, plan.threadId));
  if (!run) throw runNotFound(named);
  const runId = run.id;
  const stepId = plan.decision.stepId ?? run.pendingApproval?.stepId;
  if (!stepId) {
    throw notWaiting(runId, "", undefined, `Run ${runId} is not waiting for approval`);
  }
  const log = await deps.store.read(runId, 0);
  const gate = findGate(log, stepId);
  if (gate < 0) {
    throw notWaiting(runId, stepId, undefined, `Step ${stepId} never waited for approval`);
  }
  await deps.gateway.decide(runId, {
    stepId,
    decision: plan.decision.decision,
    ...(plan.decision.comment ? { comment: plan.decision.comment } : {}),
  }, log[gate].seq);
  const tr = createAguiTranslator({ threadId: plan.threadId, runId: plan.requestRunId });
  tr.prime(log.slice(0, gate + 1));
  return streamRun(deps, runId, log[gate].seq, aguiEncoder(tr), { dialect: "agui", slot });
}
