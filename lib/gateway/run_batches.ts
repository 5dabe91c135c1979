/**
 * A client's view of one run's log for the gateway: the store's subscription, with the relay
 * watchdog watching the run while it is open. A plain iterator rather than an async generator,
 * so `return()` ends the subscription at once even while a `next()` waits for new events (a
 * generator's `return()` would queue behind that wait), and so an idle viewer holds nothing but
 * the subscription's own wait.
 * @module
 */
import { isTerminalType, type StoredEvent } from "../events.ts";
import type { RunStore } from "../runs/store.ts";
import type { RelayLease } from "./relay_lease.ts";

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * The run's events after `afterSeq` in batches, replay then live, until the terminal event
 * (which ends the last batch). The watch starts at construction and ends when the iterator is
 * done or `return()` is called: a consumer that stops early must call `return()` (a for-await
 * does on `break` and on a throw).
 */
export class RunBatches implements AsyncIterableIterator<StoredEvent[]> {
  readonly #lease: RelayLease;
  readonly #store: RunStore;
  readonly #runId: string;
  readonly #afterSeq: number;
  readonly #signal: AbortSignal | undefined;
  #sub: AsyncIterableIterator<StoredEvent[]> | undefined;
  #ended = false;

  /** Starts watching `runId` (see the class doc). */
  constructor(
    lease: RelayLease,
    store: RunStore,
    runId: string,
    afterSeq: number,
    signal?: AbortSignal,
  ) {
    this.#lease = lease;
    this.#store = store;
    this.#runId = runId;
    this.#afterSeq = afterSeq;
    this.#signal = signal;
    lease.watch(runId);
  }

  /** This iterator (so a for-await can take it). */
  [Symbol.asyncIterator](): AsyncIterableIterator<StoredEvent[]> {
    return this;
  }

  /** The next batch (never empty), or done after the terminal event or {@link return}. */
  next(): Promise<IteratorResult<StoredEvent[]>> {
    if (this.#ended) return Promise.resolve(DONE);
    if (!this.#sub) return this.#first();
    // The steady state: the subscription's own promise and one reaction, no suspended frame.
    return this.#sub.next().then(this.#onResult ??= (r) => this.#result(r), this.#onError);
  }

  #onResult: ((r: IteratorResult<StoredEvent[]>) => IteratorResult<StoredEvent[]>) | undefined;
  readonly #onError = (err: unknown): never => {
    this.#end();
    throw err;
  };

  async #first(): Promise<IteratorResult<StoredEvent[]>> {
    try {
      // The relay is checked once at once (a viewer of a run whose relay died takes it over
      // here), then every half lease by the watchdog while the run is watched.
      await this.#lease.check(this.#runId);
      if (this.#ended) return DONE;
      this.#sub = this.#store.subscribe(this.#runId, this.#afterSeq, this.#signal);
      return this.#result(await this.#sub.next());
    } catch (err) {
      return this.#onError(err);
    }
  }

  #result(r: IteratorResult<StoredEvent[]>): IteratorResult<StoredEvent[]> {
    if (r.done || isTerminalType(r.value[r.value.length - 1].type)) this.#end();
    return r.done ? DONE : r;
  }

  /** Ends the subscription and the watch now (a pending `next()` resolves done). */
  return(): Promise<IteratorResult<StoredEvent[]>> {
    this.#end();
    return Promise.resolve(DONE);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#lease.unwatch(this.#runId);
    void this.#sub?.return?.();
  }
}
