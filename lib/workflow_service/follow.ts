/**
 * A thread's events as one SSE response: the stored events after an id, then live ones as they
 * are written, until the thread's end. Every response of the service (`/execute` and the rejoin
 * endpoint) is such a follower, so a run never depends on who reads it: the run writes to the
 * thread store, and a caller that goes away only stops its own reading.
 *
 * Live events written by this process wake the follower at once (the {@link ThreadHub}); writes
 * by another process sharing the KV are found by a poll every `pollMs`.
 * @module
 */
import { encodeEvent, frameBytes } from "../sse/encode.ts";
import { isFinished, type ThreadEvent, type ThreadStore } from "./thread_store.ts";

const KEEP_ALIVE = new TextEncoder().encode(": keep-alive\n\n");
const TERMINAL_TYPES = new Set(["workflow_complete", "workflow_error", "workflow_aborted"]);

/** Wakes a thread's followers in this process when events are written. */
export class ThreadHub {
  readonly #waiters = new Map<string, Set<() => void>>();

  /** Calls `wake` on the next write to thread `id`; returns the unsubscribe. */
  subscribe(id: string, wake: () => void): () => void {
    let set = this.#waiters.get(id);
    if (!set) this.#waiters.set(id, set = new Set());
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.#waiters.get(id) === set) this.#waiters.delete(id);
    };
  }

  /** Thread `id` changed. */
  notify(id: string): void {
    for (const wake of [...this.#waiters.get(id) ?? []]) wake();
  }

  /** Wakes every follower (shutdown). */
  notifyAll(): void {
    for (const id of [...this.#waiters.keys()]) this.notify(id);
  }
}

/** What a follower needs. */
export interface FollowOptions {
  /** Where the events are read. */
  store: ThreadStore;
  /** Wakes the follower on this process's writes. */
  hub: ThreadHub;
  /** The thread. */
  id: string;
  /** Send the events after this id. */
  after: number;
  /** End after the first `approval_required` (an `/execute` answer ends at its gate). */
  stopAtGate: boolean;
  /** A `: keep-alive` comment after this much silence (0 = never). */
  keepAliveMs: number;
  /** Re-read the store this often while nothing wakes the follower. */
  pollMs: number;
  /**
   * Called when the follower waits on a running thread: lets the service take over a thread
   * whose process died.
   */
  onIdle?: () => Promise<void>;
  /** Called once when the response ends (any way). */
  onEnd?: () => void;
}

/** A follower: its SSE body, and `drain` for a closing service. */
export interface Follower {
  /** The SSE bytes. */
  body: ReadableStream<Uint8Array>;
  /**
   * Reads every stored event the follower has not sent yet into its buffer; afterwards it sends
   * those and ends without touching the store again (the service is closing it).
   */
  drain(): Promise<void>;
}

/** Creates a follower. */
export function followThread(opts: FollowOptions): Follower {
  const { store, hub, id } = opts;
  let last = opts.after;
  let buffered: ThreadEvent[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  let dirty = false;
  let final = false;
  const unsubscribe = hub.subscribe(id, () => {
    dirty = true;
    wake?.();
  });
  const finish = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    wake?.();
    opts.onEnd?.();
  };

  /** Waits for a wake, a poll tick, or the keep-alive deadline; true when it was keep-alive. */
  const wait = (keepAliveIn: number): Promise<boolean> => {
    if (dirty) {
      dirty = false;
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const keepAlive = opts.keepAliveMs > 0
        ? setTimeout(() => done(true), keepAliveIn)
        : undefined;
      const poll = setTimeout(() => done(false), opts.pollMs);
      const done = (kept: boolean) => {
        clearTimeout(keepAlive);
        clearTimeout(poll);
        wake = undefined;
        dirty = false;
        resolve(kept);
      };
      wake = () => done(false);
    });
  };

  let lastByte = Date.now();
  /** One turn: sends a frame ("sent"), finds the end ("end"), or looks again ("again"). */
  const turn = async (c: ReadableStreamDefaultController<Uint8Array>) => {
    if (buffered.length === 0 && final) return "end";
    if (buffered.length === 0) buffered = await store.events(id, last);
    if (buffered.length > 0) {
      const ev = buffered.shift()!;
      // A gap means retention dropped events this reader never got: end rather than skip.
      if (ev.id !== last + 1) return "end";
      last = ev.id;
      c.enqueue(frameBytes(encodeEvent({ id: ev.id, event: ev.type, data: ev.data })));
      lastByte = Date.now();
      const stop = TERMINAL_TYPES.has(ev.type) ||
        (opts.stopAtGate && ev.type === "approval_required");
      return stop ? "end" : "sent";
    }
    const current = await store.get(id);
    if (!current) return "end";
    const { row } = current;
    if (row.seq <= last && (row.status === "waiting" || isFinished(row.status))) return "end";
    if (row.seq > last) return "again";
    if (final) return "end";
    await opts.onIdle?.();
    const silentFor = Date.now() - lastByte;
    if (opts.keepAliveMs > 0 && silentFor >= opts.keepAliveMs) {
      c.enqueue(KEEP_ALIVE);
      lastByte = Date.now();
      return "sent";
    }
    if (await wait(opts.keepAliveMs - silentFor)) {
      c.enqueue(KEEP_ALIVE);
      lastByte = Date.now();
      return "sent";
    }
    return "again";
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      while (!ended) {
        let step: "sent" | "end" | "again";
        try {
          step = await turn(c);
        } catch {
          // A store failure ends this response (the caller may rejoin), unless the service
          // already handed this follower everything it has to send.
          step = final && buffered.length > 0 ? "again" : "end";
        }
        if (step === "sent") return;
        if (step === "end") break;
      }
      finish();
      try {
        c.close();
      } catch {
        // already closed
      }
    },
    cancel() {
      finish();
    },
  }, { highWaterMark: 0 });
  return {
    body,
    async drain() {
      if (ended || final) return;
      let upTo = buffered.at(-1)?.id ?? last;
      for (
        let more = await store.events(id, upTo);
        more.length > 0;
        more = await store.events(id, upTo)
      ) {
        buffered.push(...more);
        upTo = more.at(-1)!.id;
      }
      final = true;
      dirty = true;
      wake?.();
    },
  };
}
