/**
 * A per-client cap on open streams (`MAX_STREAMS_PER_CLIENT`), so one address cannot hold every
 * `MAX_STREAMS` place. A place is taken before the request runs and given back when its response
 * has been sent or its client went away (`Deno.ServeHandlerInfo.completed`).
 * @module
 */

/** Counts open streams per client key (the address). */
export class ClientStreams {
  readonly #open = new Map<string, number>();
  readonly #max: number;

  /** `max` 0 turns the cap off. */
  constructor(max: number) {
    this.#max = max;
  }

  /** False when the cap is off (`max` 0): then nothing needs to know when a stream ends. */
  get capped(): boolean {
    return this.#max > 0;
  }

  /** Streams `key` holds now. */
  count(key: string): number {
    return this.#open.get(key) ?? 0;
  }

  /**
   * Takes a place for `key`: its `release` (idempotent), or null when `key` holds the maximum.
   */
  take(key: string): (() => void) | null {
    if (this.#max === 0) return () => {};
    const n = this.#open.get(key) ?? 0;
    if (n >= this.#max) return null;
    this.#open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(key) ?? 1) - 1;
      if (left <= 0) this.#open.delete(key);
      else this.#open.set(key, left);
    };
  }
}
