/**
 * A bound on the run starts in progress at once (`MAX_STARTING_RUNS`), the rest waiting their
 * turn in arrival order. A start is mostly waiting (its create commit, the workflow service's
 * answer), so a burst of starts let through all at once finishes all at once: each waits on
 * every other's share of the main thread and of the commits. Let through a few dozen at a time,
 * the first ones reach their first event while the later ones are still queued: a burst of 200
 * starts got its median first byte about a quarter sooner (docs/performance.md). The workflow
 * service also sees at most this many calls of a burst at once. The gateway owns the gate (its
 * shutdown closes it); the HTTP layer's start admission (`lib/http/start_admission.ts`) takes
 * the places, before the app does any work on a start.
 * @module
 */

/** Run starts in progress at once unless configured (`MAX_STARTING_RUNS`). */
export const DEFAULT_MAX_STARTING_RUNS = 32;

/** A waiting start: told when its turn comes, or that it never will. */
interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
}

/** Admits at most `size` starts at once, in arrival order (see the module doc). */
export class StartGate {
  #free: number;
  #queue: Waiter[] = [];
  #closed: { reason: unknown } | undefined;

  /** A gate with `size` places (at least 1). */
  constructor(size: number) {
    if (!(size >= 1)) throw new RangeError("a start gate needs at least one place");
    this.#free = Math.floor(size);
  }

  /** Starts waiting for a place now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Places free now ({@link enter} takes one without waiting); none once closed. */
  get free(): number {
    return this.#closed ? 0 : this.#free;
  }

  /**
   * Takes a place: undefined when one was free (no promise: the common case), else a promise
   * that resolves when one is, or rejects with the reason {@link close} gave. Each place taken
   * is given back with {@link leave}.
   */
  enter(): Promise<void> | undefined {
    if (this.#closed) return Promise.reject(this.#closed.reason);
    if (this.#free > 0) {
      this.#free--;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => this.#queue.push({ resolve, reject }));
  }

  /** Gives a place back: the longest-waiting start gets it. */
  leave(): void {
    const next = this.#queue.shift();
    if (next) next.resolve();
    else this.#free++;
  }

  /** Refuses every waiting and later start with `reason` (shutdown); places taken stay. */
  close(reason: unknown): void {
    this.#closed = { reason };
    const queue = this.#queue;
    this.#queue = [];
    for (const w of queue) w.reject(reason);
  }
}
