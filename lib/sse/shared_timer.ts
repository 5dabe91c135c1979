/**
 * One timer for many deadlines: entries sit in a binary min-heap by due time, and a single timer
 * of the {@link Scheduler} is armed for the earliest. Thousands of idle SSE streams each waiting
 * for their next heartbeat then cost one heap slot each instead of a runtime timer each (a timer
 * object, its callback closures and the runtime's own entry). Deadlines fire exactly when due,
 * as a timer per entry would: the heap is not bucketed.
 * @module
 */

/** Opaque timer handle of a {@link Scheduler}. */
export type TimerHandle = unknown;

/** Time source and one-shot timers; tests inject a manual one. */
export interface Scheduler {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Calls `callback(arg)` once after `ms`. */
  setTimer<T>(callback: (arg: T) => void, ms: number, arg: T): TimerHandle;
  /** Cancels a pending timer (a no-op for one that already fired). */
  clearTimer(handle: TimerHandle): void;
}

/** The real clock and timers. */
export const realScheduler: Scheduler = {
  now: () => performance.now(),
  setTimer: (callback, ms, arg) => setTimeout(callback, ms, arg),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * One deadline in a {@link SharedTimer}, scheduled and cancelled by its owner. `callback(arg)`
 * runs each time it comes due (it may schedule the entry again); many entries can share one
 * callback, so an entry allocates no closure.
 */
export class TimerEntry<T = unknown> {
  /** When it is due (the scheduler's clock); meaningful while scheduled. */
  due = 0;
  /** Its place in the heap; -1 while not scheduled. */
  index: number = -1;
  /**
   * An entry, not yet scheduled.
   * @param callback what runs when the entry comes due
   * @param arg passed to `callback`
   */
  constructor(readonly callback: (arg: T) => void, readonly arg: T) {}
  /** True while the entry waits to fire. */
  get scheduled(): boolean {
    return this.index >= 0;
  }
}

// The timer callback, shared by every SharedTimer (set by the class's static block).
let onFire: (timer: SharedTimer) => void;

/** Deadlines of many entries on one timer of a scheduler (see the module doc). */
export class SharedTimer {
  readonly #scheduler: Scheduler;
  // deno-lint-ignore no-explicit-any
  readonly #heap: TimerEntry<any>[] = [];
  #timer: TimerHandle = undefined;
  /** The due time the armed timer was set for. */
  #armedFor = Infinity;
  #firing = false;

  /**
   * A shared timer with nothing scheduled.
   * @param scheduler the clock and the one timer
   */
  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  /** Entries waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `entry` to fire `ms` from now (moving it when it was scheduled already). */
  schedule<T>(entry: TimerEntry<T>, ms: number): void {
    const due = this.#scheduler.now() + Math.max(0, ms);
    if (entry.index >= 0) {
      const before = entry.due;
      entry.due = due;
      if (due < before) this.#up(entry.index);
      else this.#down(entry.index);
    } else {
      entry.due = due;
      entry.index = this.#heap.length;
      this.#heap.push(entry);
      this.#up(entry.index);
    }
    this.#arm();
  }

  /** Removes `entry` (a no-op when it is not scheduled). */
  cancel<T>(entry: TimerEntry<T>): void {
    const i = entry.index;
    if (i < 0) return;
    entry.index = -1;
    const last = this.#heap.pop()!;
    if (last !== entry) {
      this.#heap[i] = last;
      last.index = i;
      this.#up(i);
      this.#down(last.index);
    }
    this.#arm();
  }

  static {
    onFire = (timer) => timer.#fire();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    this.#firing = true;
    try {
      const now = this.#scheduler.now();
      // Entries an entry schedules while firing come due at `now` at the earliest only with a
      // zero delay; the loop takes them too, as separate timers at that time would fire.
      while (this.#heap.length > 0 && this.#heap[0].due <= now) {
        const entry = this.#heap[0];
        this.cancel(entry);
        try {
          entry.callback(entry.arg);
        } catch (err) {
          // One entry's failure must not stop the others' deadlines.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    } finally {
      this.#firing = false;
      this.#arm();
    }
  }

  /** Keeps the one timer armed for the earliest entry (or none). */
  #arm(): void {
    if (this.#firing) return;
    const first = this.#heap[0];
    const want = first ? first.due : Infinity;
    if (want === this.#armedFor) return;
    // A timer armed earlier than needed stays: it fires, finds nothing due and arms for the
    // earliest entry then. Moving it each time the earliest entry is cancelled cost a runtime
    // timer per cancel where entries end in the order they began (body reads, upstream answers).
    if (first && this.#timer !== undefined && this.#armedFor < want) return;
    if (this.#timer !== undefined) this.#scheduler.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#armedFor = want;
    if (first) {
      this.#timer = this.#scheduler.setTimer(
        onFire,
        Math.max(0, want - this.#scheduler.now()),
        this,
      );
    }
  }

  #up(i: number): void {
    const heap = this.#heap;
    const entry = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].due <= entry.due) break;
      heap[i] = heap[parent];
      heap[i].index = i;
      i = parent;
    }
    heap[i] = entry;
    entry.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const entry = heap[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r].due < heap[l].due ? r : l;
      if (heap[c].due >= entry.due) break;
      heap[i] = heap[c];
      heap[i].index = i;
      i = c;
    }
    heap[i] = entry;
    entry.index = i;
  }
}

const shared = new WeakMap<Scheduler, SharedTimer>();

/** The one {@link SharedTimer} of `scheduler` (created on first use). */
export function sharedTimer(scheduler: Scheduler): SharedTimer {
  let t = shared.get(scheduler);
  if (!t) shared.set(scheduler, t = new SharedTimer(scheduler));
  return t;
}
