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
import { Channel, type Host, Subscription } from "./live_tail_subscription.ts";
import type { HeadState, TailSource } from "./tail_source.ts";

export type { HeadState, TailSource } from "./tail_source.ts";

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
