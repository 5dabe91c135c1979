/**
 * Live subscriptions to run logs, independent of the storage: replay from the log, then follow
 * the head. One shared channel per run id holds the subscribers and the run's known head; the
 * storage feeds it from three places: its own appends ({@link LiveTail.publish}, no storage read
 * at all), and watches or polls that see writes from other processes ({@link LiveTail.advance}).
 *
 * Why nothing is lost or repeated: a subscriber only ever asks the log for events after the last
 * seq it holds, and it waits only while that seq is at or past the channel's head. The head is
 * read from the log when the subscription starts and every later commit moves it (locally right
 * after the commit, remotely through the watch or poll), so a commit that races the replay is
 * either in the replay's read or moves the head past the subscriber, which reads again.
 * @module
 */
import type { StoredEvent } from "../events.ts";
import { isTerminalType } from "../event_names.ts";
import { RunNotFoundError } from "./errors.ts";

/** A run's head: the last seq written and whether that event ended the run. */
export interface HeadState {
  /** The last seq (0 before the first event). */
  seq: number;
  /** True once the run's terminal event is written. */
  done: boolean;
}

/** What a {@link LiveTail} needs from the storage. */
export interface TailSource {
  /** The run's current head, or null when the run does not exist. */
  readHead(id: string): Promise<HeadState | null>;
  /**
   * Events with seq > `afterSeq`, ascending, at most `limit`; `untilSeq` is the head the tail
   * has seen (the events it reads toward).
   */
  read(id: string, afterSeq: number, limit: number, untilSeq: number): Promise<StoredEvent[]>;
  /**
   * Called when a run gets its first subscriber in this process: start following the run's
   * head for writes from elsewhere (feeding {@link LiveTail.advance}). Returns the stopper,
   * called when the last subscriber leaves.
   */
  open?(id: string): () => Promise<void>;
}

/** Tuning of a {@link LiveTail}. */
export interface LiveTailOptions {
  /** Events per storage read while replaying (default 256). */
  pageSize?: number;
  /**
   * Events a subscriber may hold unconsumed from local appends (default 32768, a relay's
   * backlog: its readers take whole batches at once, so this is a bound, not a working size);
   * past that it
   * falls back to reading the log, so a slow reader never grows memory without bound.
   */
  maxBuffered?: number;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const noop = () => {};
const NO_EVENTS: StoredEvent[] = [];

/** The shared state of one run's subscribers in this process. */
class Channel {
  /** Highest seq known committed; -1 until someone read the head. */
  head = -1;
  /** The run's terminal event is at `head`. */
  done = false;
  /** A watch or poll saw the run disappear; subscribers verify before believing it. */
  gone = false;
  readonly subs = new Set<Subscription>();
  stop?: () => Promise<void>;
  constructor(readonly id: string) {}

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

  wakeAll(): void {
    for (const sub of this.subs) sub.wake();
  }
}

/** What a subscription needs from its tail (kept narrow so subscriptions stay small). */
interface Host {
  readonly source: TailSource;
  readonly pageSize: number;
  detach(sub: Subscription, ch: Channel): void;
}

/**
 * One subscriber: a cursor, a small buffer, and at most one pending wait. Each `next()` hands
 * over everything buffered at once (a replay page, or a local append's whole batch), so a reader
 * can write a batch as one chunk instead of one per event.
 */
class Subscription implements AsyncIterableIterator<StoredEvent[]> {
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
  readonly maxBuffered: number;

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

  [Symbol.asyncIterator](): AsyncIterableIterator<StoredEvent[]> {
    return this;
  }

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

/**
 * The live side of a run store: subscriptions per run sharing one channel per run id, fed by the
 * store's own appends and by whatever follows other processes' writes.
 */
export class LiveTail {
  readonly #source: TailSource;
  readonly #pageSize: number;
  readonly #maxBuffered: number;
  readonly #channels = new Map<string, Channel>();
  readonly #stopping = new Set<Promise<void>>();
  #closed = false;
  readonly #host: Host;

  /** A tail over `source`, tuned by `opts`. */
  constructor(source: TailSource, opts: LiveTailOptions = {}) {
    this.#source = source;
    this.#pageSize = Math.max(1, opts.pageSize ?? 256);
    this.#maxBuffered = Math.max(1, opts.maxBuffered ?? 32_768);
    this.#host = {
      source,
      pageSize: this.#pageSize,
      detach: (sub, ch) => this.#detach(sub, ch),
    };
  }

  /**
   * Replays the run's events after `afterSeq`, then follows it live until its terminal event,
   * `signal`, `return()` or {@link close}, in batches (never empty). The first `next()` rejects
   * with {@link RunNotFoundError} when the run does not exist.
   */
  subscribe(
    id: string,
    afterSeq: number,
    signal?: AbortSignal,
  ): AsyncIterableIterator<StoredEvent[]> {
    const after = Number.isFinite(afterSeq) ? Math.max(0, Math.floor(afterSeq)) : 0;
    if (this.#closed || signal?.aborted) {
      const ended = new Subscription(this.#host, new Channel(id), after, 0);
      ended.finish();
      return ended;
    }
    let ch = this.#channels.get(id);
    if (!ch) {
      ch = new Channel(id);
      this.#channels.set(id, ch);
      ch.stop = this.#source.open?.(id);
    }
    const sub = new Subscription(this.#host, ch, after, this.#maxBuffered, signal);
    ch.subs.add(sub);
    return sub;
  }

  /**
   * Reports events this process just committed (the fast path: subscribers that are caught up
   * take them without reading the log) and the run's new head.
   */
  publish(id: string, events: readonly StoredEvent[], head: HeadState): void {
    const ch = this.#channels.get(id);
    if (!ch) return;
    if (events.length > 0) { for (const sub of ch.subs) sub.offer(events); }
    ch.advance(head);
    ch.wakeAll();
  }

  /** Reports a head seen by a watch or a poll; null when the run seems to be gone. */
  advance(id: string, head: HeadState | null): void {
    const ch = this.#channels.get(id);
    if (!ch) return;
    if (head === null) {
      if (ch.head < 0) return;
      ch.gone = true;
      ch.wakeAll();
      return;
    }
    if (ch.advance(head)) ch.wakeAll();
  }

  /** Run ids with at least one subscriber in this process. */
  runIds(): string[] {
    return [...this.#channels.keys()];
  }

  /** How many subscriptions are open. */
  get subscriberCount(): number {
    let n = 0;
    for (const ch of this.#channels.values()) n += ch.subs.size;
    return n;
  }

  /** Ends every subscription and waits until their reads and the runs' watches have stopped. */
  async close(): Promise<void> {
    this.#closed = true;
    const subs: Subscription[] = [];
    for (const ch of [...this.#channels.values()]) {
      for (const sub of [...ch.subs]) {
        subs.push(sub);
        sub.finish();
      }
    }
    await Promise.all(subs.map((s) => s.settled()));
    while (this.#stopping.size > 0) await Promise.all([...this.#stopping]);
  }

  #detach(sub: Subscription, ch: Channel): void {
    if (!ch.subs.delete(sub) || ch.subs.size > 0 || this.#channels.get(ch.id) !== ch) return;
    this.#channels.delete(ch.id);
    const stop = ch.stop;
    if (stop) {
      const p: Promise<void> = stop().catch(() => {}).finally(() => this.#stopping.delete(p));
      this.#stopping.add(p);
    }
  }
}
