/**
 * Many watchers of one `AbortSignal`, each added and removed in O(1). A signal keeps its
 * listeners in a list that every `addEventListener` and `removeEventListener` scans (to find a
 * duplicate, or the one to remove), so a process-wide signal that every open upstream call
 * watches (the gateway's shutdown signal: one watcher per open stream) made each run's start and
 * end scan all the others (docs/performance.md). Here the signal gets one listener, and its
 * watchers live in a `Set`.
 * @module
 */

/** Told once when a watched signal aborts: a function, or an object's `handleEvent`. */
export type AbortWatcher = (() => void) | { handleEvent(): void };

const watchers = new WeakMap<AbortSignal, Set<AbortWatcher>>();

function notify(w: AbortWatcher): void {
  try {
    if (typeof w === "function") w();
    else w.handleEvent();
  } catch (err) {
    // What an event listener's exception would do: reported, and the others still run.
    reportError(err);
  }
}

/**
 * Tells `w` once when `signal` aborts, unless {@link unwatchAbort} came first: the effect of
 * `signal.addEventListener("abort", w, { once: true })`. Like it, a watch added after the abort
 * is never told (check `signal.aborted` first).
 */
export function watchAbort(signal: AbortSignal, w: AbortWatcher): void {
  let set = watchers.get(signal);
  if (set === undefined) {
    const fresh = new Set<AbortWatcher>();
    set = fresh;
    watchers.set(signal, fresh);
    signal.addEventListener("abort", () => {
      watchers.delete(signal);
      for (const x of fresh) notify(x);
      fresh.clear();
    }, { once: true });
  }
  set.add(w);
}

/** Stops watching: `w` is not told of `signal`'s abort (no-op when it was not watching). */
export function unwatchAbort(signal: AbortSignal, w: AbortWatcher): void {
  watchers.get(signal)?.delete(w);
}
