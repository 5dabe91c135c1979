/**
 * Where an AG-UI stream over a run's log starts. Every AG-UI stream is one AG-UI run that ends at
 * the first interrupt it meets, so a stream that replays an approval gate already decided would
 * hand the client that old interrupt again (and stop there) while the run has moved on. These
 * pure functions find the gates and decisions in a log so the stream can start past them.
 * @module
 */
import type { StoredEvent } from "../../events.ts";

/** A decision as the log recorded it (`approval_resolved`). */
export interface RecordedDecision {
  /** The `decision` field as logged (`approve` or `reject` when the gateway wrote it). */
  decision: string;
  /** The approver's comment, when the event carried one. */
  comment?: string;
}

function dataOf(ev: StoredEvent): Record<string, unknown> {
  try {
    const v = JSON.parse(ev.data);
    return typeof v === "object" && v !== null ? v as Record<string, unknown> : {};
  } catch {
    return {};
  }
}

function stepOf(ev: StoredEvent): unknown {
  return dataOf(ev).stepId;
}

/** The index in `log` of the last `approval_required` of `stepId`, or -1. */
export function findGate(log: readonly StoredEvent[], stepId: string): number {
  for (let i = log.length - 1; i >= 0; i--) {
    if (log[i].type === "approval_required" && stepOf(log[i]) === stepId) return i;
  }
  return -1;
}

/** The decision recorded for `stepId` after the gate at index `gate`, if any. */
export function decisionAfter(
  log: readonly StoredEvent[],
  gate: number,
  stepId: string,
): RecordedDecision | undefined {
  for (let i = gate + 1; i < log.length; i++) {
    if (log[i].type !== "approval_resolved") continue;
    const d = dataOf(log[i]);
    if (d.stepId !== stepId) continue;
    const out: RecordedDecision = { decision: String(d.decision) };
    if (typeof d.comment === "string") out.comment = d.comment;
    return out;
  }
  return undefined;
}

/**
 * The seq of the last `approval_required` that a later `approval_resolved` of the same step
 * decided, or 0 when no gate was decided yet. A stream primed through that gate and reading
 * after it starts where the resume path would: with the decision, then the continuation.
 */
export function lastDecidedGateSeq(log: readonly StoredEvent[]): number {
  for (let r = log.length - 1; r >= 0; r--) {
    if (log[r].type !== "approval_resolved") continue;
    const stepId = stepOf(log[r]);
    for (let g = r - 1; g >= 0; g--) {
      if (log[g].type === "approval_required" && stepOf(log[g]) === stepId) return log[g].seq;
    }
    // A decision without its gate in the log cannot be replayed past; start before it.
    return log[r].seq - 1;
  }
  return 0;
}

/**
 * Where an AG-UI stream over `log` (the whole log, from seq 1) reads from when the client already
 * holds everything up to `afterSeq`: after `afterSeq`, but never before the last decided gate.
 */
export function aguiReplayFrom(log: readonly StoredEvent[], afterSeq: number): number {
  return Math.max(afterSeq, lastDecidedGateSeq(log));
}
