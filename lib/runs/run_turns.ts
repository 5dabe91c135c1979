/**
 * Per-run turns: this process's own writes to one run go one at a time, in call order, so they
 * never conflict with each other (a lost version check costs a re-read and a retry). Taking a
 * free run's turn allocates nothing, which matters on the append path (one per upstream read).
 * @module
 */

/** The runs being written, each with the callers waiting for its turn. */
export class RunTurns {
  /** A run in the map is being written; its array (made only when someone waits) the waiters. */
  readonly #turns = new Map<string, Array<() => void> | null>();

  /** True while a write of run `id` holds its turn. */
  busy(id: string): boolean {
    return this.#turns.has(id);
  }

  /** Takes run `id`'s turn now; only when it is not {@link busy}. */
  take(id: string): void {
    this.#turns.set(id, null);
  }

  /** Takes run `id`'s turn: at once when free, else once the writers before pass it on. */
  acquire(id: string): Promise<void> | undefined {
    if (!this.#turns.has(id)) {
      this.#turns.set(id, null);
      return undefined;
    }
    let waiters = this.#turns.get(id);
    if (!waiters) this.#turns.set(id, waiters = []);
    const queue = waiters;
    return new Promise((resolve) => queue.push(resolve));
  }

  /** Ends the current turn on run `id`: the next waiter's starts, or the run is free. */
  pass(id: string): void {
    const next = this.#turns.get(id)?.shift();
    if (next) next();
    else this.#turns.delete(id);
  }

  /** Runs `fn` in run `id`'s turn. */
  async with<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const turn = this.acquire(id);
    if (turn) await turn;
    try {
      return await fn();
    } finally {
      this.pass(id);
    }
  }
}
