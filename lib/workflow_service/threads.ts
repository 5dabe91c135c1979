/**
 * The service's thread table: one record per `thread_id` for the life of the process, with
 * bounded memory. Finished threads are evicted after `finishedTtlMs`, waiting ones after
 * `waitingTtlMs`, and when the table is full the oldest idle thread makes room. Eviction is done
 * lazily by `sweep()` (called per request), so the table owns no timers.
 * @module
 */

/** Where a thread is in its life. */
export type ThreadStatus = "running" | "waiting" | "complete" | "rejected" | "error" | "aborted";

/** One thread (= workflow run) as the service tracks it. */
export interface ThreadRecord {
  id: string;
  graph: string;
  status: ThreadStatus;
  /** The last SSE `id` sent on this thread; continues across execute and every resume. */
  seq: number;
  /** The gate the thread waits at (status `waiting`). */
  pending?: { stepId: string; message: string };
  /** Aborts the segment that is running (status `running`). */
  controller?: AbortController;
  /** Why `controller` was aborted. */
  abortReason?: "user" | "shutdown";
  /** Settles when the running segment has sent its last event (never rejects). */
  done?: Promise<void>;
  /** Last status change, epoch ms from the service clock. */
  updatedAt: number;
}

/** Eviction limits. */
export interface ThreadTableOptions {
  /** Keep finished threads this long (default one hour). */
  finishedTtlMs?: number;
  /** Keep threads waiting for a decision this long (default 24 hours). */
  waitingTtlMs?: number;
  /** Most threads held at once (default 10,000). */
  maxThreads?: number;
}

/** The in-memory table of threads. */
export class ThreadTable {
  readonly #threads = new Map<string, ThreadRecord>();
  readonly #finishedTtl: number;
  readonly #waitingTtl: number;
  readonly #max: number;

  constructor(opts: ThreadTableOptions = {}) {
    this.#finishedTtl = opts.finishedTtlMs ?? 3_600_000;
    this.#waitingTtl = opts.waitingTtlMs ?? 86_400_000;
    this.#max = opts.maxThreads ?? 10_000;
  }

  /** How many threads are held. */
  get size(): number {
    return this.#threads.size;
  }

  /** The thread with `id`, if held. */
  get(id: string): ThreadRecord | undefined {
    return this.#threads.get(id);
  }

  /** All held threads (for shutdown and health). */
  all(): ThreadRecord[] {
    return [...this.#threads.values()];
  }

  /**
   * Adds `record`, first evicting the oldest idle thread if the table is full. Returns the ids it
   * evicted, or `undefined` when every held thread is running (the table refuses to grow).
   */
  add(record: ThreadRecord): string[] | undefined {
    const evicted: string[] = [];
    while (this.#threads.size >= this.#max) {
      let oldest: ThreadRecord | undefined;
      for (const t of this.#threads.values()) {
        if (t.status === "running") continue;
        // Finished threads go before waiting ones: a waiting thread still expects a decision.
        const rank = (r: ThreadRecord) => (r.status === "waiting" ? 1 : 0);
        if (
          !oldest || rank(t) < rank(oldest) ||
          (rank(t) === rank(oldest) && t.updatedAt < oldest.updatedAt)
        ) oldest = t;
      }
      if (!oldest) return undefined;
      this.#threads.delete(oldest.id);
      evicted.push(oldest.id);
    }
    this.#threads.set(record.id, record);
    return evicted;
  }

  /** Evicts threads past their time at `nowMs`; returns their ids. Running threads stay. */
  sweep(nowMs: number): string[] {
    const evicted: string[] = [];
    for (const t of this.#threads.values()) {
      if (t.status === "running") continue;
      const ttl = t.status === "waiting" ? this.#waitingTtl : this.#finishedTtl;
      if (nowMs - t.updatedAt >= ttl) {
        this.#threads.delete(t.id);
        evicted.push(t.id);
      }
    }
    return evicted;
  }

  /** Forgets every thread. */
  clear(): void {
    this.#threads.clear();
  }
}
