/**
 * The step journal of one running segment: turns a node's start and end into durable events.
 * A step found done returns its stored result (it never runs twice); a task step found started
 * but not done was cut by a crash and starts again with `step_started {retry: true}`; a gate found
 * started is the same gate taking its decision (no second `step_started`).
 * @module
 */
import type { StepJournal } from "./runner.ts";
import type { ArtifactDoc } from "./spec.ts";
import type { StepEntry } from "./thread_store.ts";

/** What a journal writes through. */
export interface JournalOptions {
  /** The thread's journal as read when the segment began; kept up to date. */
  known: Map<string, StepEntry>;
  /** The segment's abort signal (no new step starts once aborted). */
  signal: AbortSignal;
  /** Writes events and journal entries in one durable write. */
  write(
    events: Array<{ type: string; data: Record<string, unknown> }>,
    steps: Array<{ step: string; entry: StepEntry }>,
  ): Promise<void>;
  /** Told when a cut step starts again. */
  onRetry?(step: string): void;
}

/** Creates the journal of a segment. */
export function createJournal(opts: JournalOptions): StepJournal {
  const { known } = opts;
  return {
    async begin(step, kind) {
      const entry = known.get(step);
      if (entry?.done) return entry.result ?? {};
      if (entry && kind === "gate") return undefined;
      opts.signal.throwIfAborted();
      const retry = entry !== undefined;
      await opts.write(
        [{ type: "step_started", data: { step, ...(retry ? { retry: true } : {}) } }],
        [{ step, entry: { done: false } }],
      );
      known.set(step, { done: false });
      if (retry) opts.onRetry?.(step);
      return undefined;
    },
    async complete(step, result, documents: ArtifactDoc[]) {
      await opts.write(
        [
          { type: "step_completed", data: { step, result } },
          ...documents.map((d) => ({
            type: "artifact",
            data: { name: d.name, mime: "application/json", content: d.content },
          })),
        ],
        [{ step, entry: { done: true, result } }],
      );
      known.set(step, { done: true, result });
    },
  };
}
