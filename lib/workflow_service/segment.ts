/**
 * One segment of a thread in this process (a start, a resume or a recovery): it drives the graph
 * to its pause or end, and every write it makes is checked against the record it last wrote, so a
 * process that lost its thread stops at its next write instead of writing beside the new owner
 * (docs/workflow_service.md, "Data path"). `ThreadDriver` (driver.ts) decides which segments run.
 * @module
 */
import type { Logger } from "../log.ts";
import type { ThreadHub } from "./follow.ts";
import { createJournal } from "./journal.ts";
import type { RunRequest, StepJournal, WorkflowRuntime } from "./runner.ts";
import type {
  StepEntry,
  ThreadEvent,
  ThreadRow,
  ThreadStatus,
  ThreadStore,
  Versioned,
} from "./thread_store.ts";

/** The thread was taken over by another process: this segment stops writing. */
export class ThreadLostError extends Error {
  /** An error naming thread `id`. */
  constructor(id: string) {
    super(`thread ${id} is run by another process now`);
    this.name = "ThreadLostError";
  }
}

/** A workflow event before its data is stamped and encoded. */
export interface DraftEvent {
  /** The workflow event type. */
  type: string;
  /** Its data, without `workflowId` and `ts`. */
  data: Record<string, unknown>;
}

/** What a segment uses of its driver. */
export interface SegmentContext {
  /** Where threads live. */
  store: ThreadStore;
  /** Wakes this process's followers of a thread on every write. */
  hub: ThreadHub;
  /** Where logs go. */
  log: Logger;
  /** The clock for `ts`. */
  now: () => Date;
  /** This process's id in thread records. */
  owner: string;
  /** Keep a running thread's state on shutdown (durable store) instead of ending it. */
  durable: boolean;
  /** The runtime, loaded on first use. */
  load(): Promise<WorkflowRuntime>;
  /** The runtime if it is loaded. */
  loaded(): Promise<WorkflowRuntime | undefined>;
}

/** `data` of thread `id`'s event with `workflowId` and `ts` stamped, as stored. */
export function stampData(id: string, data: Record<string, unknown>, now: () => Date): string {
  return JSON.stringify({ ...data, workflowId: id, ts: now().toISOString() });
}

/** One segment running in this process. */
export class Segment {
  /** The thread's id. */
  readonly id: string;
  /** Aborts the graph run (a user's abort, or the process shutting down). */
  readonly controller: AbortController = new AbortController();
  /** Why `controller` aborted: a shutdown may leave a durable thread for another process. */
  abortReason?: "user" | "shutdown";
  /** The record as this segment last wrote (or read) it: every write is checked against it. */
  current: Versioned;
  /** Settles when the segment has stopped (see {@link drive}). */
  done: Promise<void> = Promise.resolve();
  readonly #ctx: SegmentContext;

  /** A segment of the thread `current` is the record of; nothing runs until {@link drive}. */
  constructor(ctx: SegmentContext, current: Versioned) {
    this.#ctx = ctx;
    this.current = current;
    this.id = current.row.id;
  }

  /** Aborts the graph run, noting why. */
  abort(reason: "user" | "shutdown"): void {
    this.abortReason = reason;
    this.controller.abort(new DOMException(`aborted (${reason})`, "AbortError"));
  }

  /**
   * Writes events (and a record patch, and journal entries); a record changed by someone else is
   * re-read: still ours, the write is retried on it (an abort request is taken note of); taken
   * over, the segment stops.
   * @throws {ThreadLostError} when another process owns the thread now.
   */
  async write(
    events: DraftEvent[],
    patch: Partial<ThreadRow> = {},
    steps: Parameters<ThreadStore["append"]>[3] = [],
  ): Promise<ThreadEvent[]> {
    const { store, hub, owner, now } = this.#ctx;
    const id = this.id;
    const encoded = events.map((e) => ({ type: e.type, data: stampData(id, e.data, now) }));
    for (let attempt = 0; attempt < 20; attempt++) {
      const res = await store.append(this.current, encoded, patch, steps);
      if (res) {
        this.current = res.versioned;
        hub.notify(id);
        return res.events;
      }
      const fresh = await store.get(id);
      if (!fresh || fresh.row.owner !== owner || fresh.row.status !== "running") {
        throw new ThreadLostError(id);
      }
      this.current = fresh;
      if (fresh.row.abort && !this.controller.signal.aborted) this.abort("user");
    }
    throw new ThreadLostError(id);
  }

  #journal(known: Map<string, StepEntry>): StepJournal {
    return createJournal({
      known,
      signal: this.controller.signal,
      write: async (events, steps) => {
        await this.write(events, {}, steps);
      },
      onRetry: (step) =>
        this.#ctx.log.warn("step runs again: its process stopped mid-step", {
          thread_id: this.id,
          step,
        }),
    });
  }

  /** Drives the segment to its pause or end and records how it ended; never rejects. */
  async drive(run: Pick<RunRequest, "resume" | "recover">): Promise<void> {
    const id = this.id;
    const row = this.current.row;
    const tlog = this.#ctx.log.child({ thread_id: id, graph: row.graph });
    const settle = async (
      status: ThreadStatus,
      event: DraftEvent,
      extra: Partial<ThreadRow> = {},
    ) => {
      await this.write([event], { status, owner: undefined, abort: undefined, ...extra });
      // A finished thread never resumes: its checkpoints go now, its record when it expires.
      if (status !== "waiting") {
        (await this.#ctx.loaded())?.forget(id).catch((err) => tlog.warn("forget failed", { err }));
      }
    };
    try {
      const engine = await this.#ctx.load();
      const known = await this.#ctx.store.steps(id);
      const outcome = await engine.run({
        graph: row.graph,
        threadId: id,
        ...(row.start ? { start: row.start } : {}),
        ...run,
        signal: this.controller.signal,
        journal: this.#journal(known),
      });
      if (outcome.kind === "waiting") {
        await settle("waiting", {
          type: "approval_required",
          data: {
            stepId: outcome.stepId,
            message: outcome.message,
            options: ["approve", "reject"],
          },
        }, { pending: { stepId: outcome.stepId, message: outcome.message }, decision: undefined });
        tlog.info("run waiting for approval", { step: outcome.stepId });
      } else {
        await settle(outcome.status === "success" ? "complete" : "rejected", {
          type: "workflow_complete",
          data: { status: outcome.status, result: outcome.result },
        });
        tlog.info("run finished", { status: outcome.status });
      }
    } catch (err) {
      try {
        await this.#fail(err, settle, tlog);
      } catch (inner) {
        if (inner instanceof ThreadLostError) tlog.warn("thread lost to another process");
        else tlog.error("could not record the end of a run", { err: inner });
      }
    }
  }

  async #fail(
    err: unknown,
    settle: (s: ThreadStatus, e: DraftEvent) => Promise<void>,
    tlog: Logger,
  ): Promise<void> {
    if (err instanceof ThreadLostError) {
      tlog.warn("thread lost to another process");
      return;
    }
    const aborted = this.controller.signal.aborted;
    if (aborted && this.abortReason === "shutdown") {
      if (this.#ctx.durable) {
        // Left running: the next process to touch it goes on from the last checkpoint.
        tlog.info("run left for another process to go on with");
        return;
      }
      await settle("error", {
        type: "workflow_error",
        data: { message: "workflow service shutting down", retries: 0, code: "shutdown" },
      });
    } else if (aborted) {
      await settle("aborted", { type: "workflow_aborted", data: {} });
      tlog.info("run aborted");
    } else {
      const step = (err as { step?: unknown }).step;
      const failed = err instanceof Error && err.name === "StepFailedError";
      await settle("error", {
        type: "workflow_error",
        data: {
          message: err instanceof Error ? err.message : String(err),
          retries: 0,
          code: failed ? "step_failed" : "internal_error",
          ...(typeof step === "string" ? { step } : {}),
        },
      });
      tlog.error("run failed", { err });
    }
  }
}
