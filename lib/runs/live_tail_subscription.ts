/**
 * One run's subscribers in this process: the {@link Channel} they share (the run's known head)
 * and each {@link Subscription} (a cursor that replays from the log, takes this process's appends
 * and waits while caught up). A {@link LiveTail} creates and feeds them; a subscription reaches
 * back to it only through {@link Host}, so the cursor logic stays apart from the bookkeeping of
 * channels. Why a subscriber neither loses nor repeats an event: see live_tail.ts.
 * @module
 */
import type { StoredEvent } from "../events.ts";
import { isTerminalType } from "../event_names.ts";
import { RunNotFoundError } from "./errors.ts";
import type { HeadState, TailSource } from "./tail_source.ts";

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const noop = () => {};
const NO_EVENTS: StoredEvent[] = [];

/** The shared state of one run's subscribers in this process. */
export class Channel {
  /** Highest seq known committed; -1 until someone read the head. */
  head: number = -1;
  /** The run's terminal event is at `head`. */
  done = false;
  /** A watch or poll saw the run disappear; subscribers verify before believing it. */
  gone = false;
  /** The run's open subscriptions in this process. */
  readonly subs = new Set<Subscription>();
  /** Stops following the run's writes from elsewhere (what {@link TailSource.open} returned). */
  stop?: () => Promise<void>;
  /** The channel of run `id`, its head not read yet. */
  constructor(readonly id: string) {}

  /** Moves the known head forward to `head`; true when it moved (or the run just ended). */
  advance(head: HeadState): boolean {
    if (head.seq > this.head) {
      this.head = head.seq;
      this.done = head.done;
      return true;
    }
    if (head.seq === this.head && head.done && !this.done) {
      this.done = true;
      return true;
    }
    return false;
  }

  /** Wakes every subscriber, so a waiting one reads on. */
  wakeAll(): void {
    for (const sub of this.subs) sub.wake();
  }
}

/** What a subscription needs from its tail (kept narrow so subscriptions stay small). */
export interface Host {
  /** The storage the subscription reads the head and the log from. */
  readonly source: TailSource;
  /** Events per storage read while replaying. */
  readonly pageSize: number;
  /** Called once when `sub` ends: removes it from `ch`, and drops `ch` if it was the last. */
  detach(sub: Subscription, ch: Channel): void;
}

/**
 * One subscriber: a cursor, a small buffer, and at most one pending wait. Each `next()` hands
 * over everything buffered at once (a replay page, or a local append's whole batch), so a reader
 * can write a batch as one chunk instead of one per event.
 */
export class Subscription implements AsyncIterableIterator<StoredEvent[]> {
  readonly #host: Host;
  readonly #ch: Channel;
  readonly #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  /** Events fetched or pushed but not yet yielded. */
  #buf: StoredEvent[] = NO_EVENTS;
  /** The seq of the last event held (yielded or buffered). */
  #known: number;
  #started = false;
  #finished = false;
  #wake: (() => void) | null = null;
  /**
   * A `next()` waiting for new events outside {@link #step} (the live case: caught up, nothing
   * buffered): {@link wake} answers it directly, without a suspended step.
   */
  #waiter:
    | ((r: IteratorResult<StoredEvent[]> | Promise<IteratorResult<StoredEvent[]>>) => void)
    | null = null;
  /** The last `next()` call's result (later calls start after it settles). */
  #queue: Promise<unknown> = Promise.resolve();
  /** `next()` calls not settled yet (each step counts itself out as it ends). */
  #inFlight = 0;
  /** Events it may hold unconsumed from local appends (past that it reads the log). */
  readonly maxBuffered: number;

  /** A subscriber of `ch` that starts after `afterSeq`; `signal` ends it when aborted. */
  constructor(
    host: Host,
    ch: Channel,
    afterSeq: number,
    maxBuffered: number,
    signal?: AbortSignal,
  ) {
    this.#host = host;
    this.#ch = ch;
    this.#known = afterSeq;
    this.#signal = signal;
    this.maxBuffered = maxBuffered;
    if (signal) {
      this.#onAbort = () => this.#finish();
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** The subscription itself (it is its own iterator). */
  [Symbol.asyncIterator](): AsyncIterableIterator<StoredEvent[]> {
    return this;
  }

  /**
   * The next batch (never empty), or done once it has ended; the first call rejects with
   * {@link RunNotFoundError} when the run does not exist.
   */
  next(): Promise<IteratorResult<StoredEvent[]>> {
    // Calls are served one at a time, in order, like an async generator's. The usual caller
    // (a for-await) never overlaps them: then the step starts at once, and the step's own
    // promise is the whole chain (an idle subscriber holds no promise besides it).
    const overlap = this.#inFlight > 0;
    this.#inFlight++;
    const result = overlap
      ? this.#queue.then(this.#stepAfter, this.#stepAfter)
      : this.#caughtUp()
      ? new Promise<IteratorResult<StoredEvent[]>>((resolve) => {
        this.#waiter = resolve;
      })
      : this.#step();
    this.#queue = result;
    return result;
  }

  /** True when a step would only wait for the head to move (see {@link #step}). */
  #caughtUp(): boolean {
    const ch = this.#ch;
    return this.#buf.length === 0 && !this.#finished && this.#started && !ch.gone &&
      this.#known >= ch.head && !ch.done;
  }

  /** Answers a waiting `next()`: what was buffered meanwhile, or a step. */
  #resume(): IteratorResult<StoredEvent[]> | Promise<IteratorResult<StoredEvent[]>> {
    const out = this.#buf;
    if (out.length === 0) return this.#step();
    this.#inFlight--;
    this.#buf = NO_EVENTS;
    // The terminal event is always the log's last one, so it can only end the batch.
    if (isTerminalType(out[out.length - 1].type)) this.#finish();
    return { value: out, done: false };
  }

  /** Starts a step queued behind an overlapping call (rare: only when calls overlap). */
  get #stepAfter(): () => Promise<IteratorResult<StoredEvent[]>> {
    return () => this.#step();
  }

  /** Ends the subscription at once, even while a `next()` is waiting for new events. */
  return(): Promise<IteratorResult<StoredEvent[]>> {
    this.#finish();
    return this.#queue.then(() => DONE, () => DONE);
  }

  /** Settles (never rejects) when the pending `next()` calls have settled. */
  settled(): Promise<unknown> {
    return this.#queue.then(noop, noop);
  }

  /** Called by the channel when its head moved: resumes a waiting `next()`. */
  wake(): void {
    const wake = this.#wake;
    if (wake) {
      this.#wake = null;
      wake();
    }
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = null;
      waiter(this.#resume());
    }
  }

  /**
   * Takes events appended in this process when they continue exactly what this subscriber holds
   * (anything else it will read from the log).
   */
  offer(events: readonly StoredEvent[]): void {
    if (this.#finished || events.length === 0 || events[0].seq !== this.#known + 1) return;
    const held = this.#buf.length;
    if (held + events.length > this.maxBuffered) return;
    if (held === 0) {
      this.#buf = events.slice();
    } else {
      for (const ev of events) this.#buf.push(ev);
    }
    this.#known = events[events.length - 1].seq;
  }

  /** Ends the subscription (abort, return, store closing, terminal event). */
  finish(): void {
    this.#finish();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#buf = NO_EVENTS;
    if (this.#onAbort) this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#onAbort = undefined;
    this.#host.detach(this, this.#ch);
    this.wake();
  }

  /** One `next()`: everything buffered, or what the log holds next, or a wait for more. */
  async #step(): Promise<IteratorResult<StoredEvent[]>> {
    try {
      const ch = this.#ch;
      let emptyReads = 0;
      for (;;) {
        if (this.#buf.length > 0) {
          const out = this.#buf;
          this.#buf = NO_EVENTS;
          // The terminal event is always the log's last one, so it can only end the batch.
          if (isTerminalType(out[out.length - 1].type)) this.#finish();
          return { value: out, done: false };
        }
        if (this.#finished) return DONE;

        if (!this.#started || ch.gone) {
          const head = await this.#host.source.readHead(ch.id);
          if (this.#finished) return DONE;
          if (!head) {
            const first = !this.#started;
            this.#finish();
            if (first) throw new RunNotFoundError(ch.id);
            return DONE;
          }
          this.#started = true;
          ch.gone = false;
          if (ch.advance(head)) ch.wakeAll();
          // Local appends may have been offered meanwhile: look at the buffer again first.
          continue;
        }

        if (this.#known < ch.head) {
          const from = this.#known;
          const events = await this.#host.source.read(ch.id, from, this.#host.pageSize, ch.head);
          if (this.#finished) return DONE;
          if (events.length === 0) {
            // The head says there is more but the log has nothing: the run was deleted or expired.
            if (++emptyReads >= 3) {
              this.#finish();
              return DONE;
            }
            continue;
          }
          emptyReads = 0;
          // Local appends may have been offered while the read was in flight: keep only what
          // comes after the buffer, so the two sources never repeat an event.
          for (const ev of events) {
            if (ev.seq <= this.#known) continue;
            if (this.#buf === NO_EVENTS) this.#buf = [];
            this.#buf.push(ev);
            this.#known = ev.seq;
          }
          continue;
        }

        if (ch.done) {
          // Caught up with a run that has ended (e.g. a resume after its last event).
          this.#finish();
          return DONE;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      // Counted out here rather than by a then() on every call: no extra promise per batch.
      this.#inFlight--;
    }
  }
}
