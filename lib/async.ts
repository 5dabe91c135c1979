/**
 * Small async helpers shared by the server and the browser bundle: sleeps, deadlines and abort
 * races. Each one clears its timer and detaches its listener however it ends, so nothing keeps a
 * process (or a test's sanitizer) waiting on a stray timer.
 * @module
 */
import { unwatchAbort, watchAbort } from "./abort_watch.ts";

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `p`'s outcome, or `onTimeout()` once `ms` passed first (the timer is always cleared). */
export async function raceTimeout<T>(
  p: Promise<T>,
  ms: number,
  onTimeout: () => T | PromiseLike<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((resolve, reject) => {
        timer = setTimeout(() => {
          try {
            resolve(onTimeout());
          } catch (err) {
            reject(err);
          }
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when `p` settled (either way) within `ms`, false otherwise. */
export function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return raceTimeout(p.then(() => true, () => true), ms, () => false);
}

/**
 * `p`'s outcome, or a rejection with the signal's reason as soon as `signal` aborts. `onLate`
 * gets a value that arrives after the abort (to release it: cancel a response body).
 */
export function raceAbort<T>(
  p: Promise<T>,
  signal: AbortSignal,
  onLate?: (value: T) => void,
): Promise<T> {
  const late = () => {
    if (onLate) p.then(onLate, () => {});
  };
  if (signal.aborted) {
    late();
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      late();
      reject(signal.reason);
    };
    // Watched, not listened to: the signal may be the process's shutdown signal, watched by
    // every open call (see abort_watch.ts).
    watchAbort(signal, onAbort);
    p.then((v) => {
      unwatchAbort(signal, onAbort);
      resolve(v);
    }, (e) => {
      unwatchAbort(signal, onAbort);
      reject(e);
    });
  });
}
