/**
 * The browser's connectivity hints, with safe answers where there is no browser (Deno, workers
 * without `navigator.onLine`): there the client assumes it is online and never waits.
 * @module
 */

interface OnlineGlobals {
  navigator?: { onLine?: boolean };
  addEventListener?: (type: string, fn: () => void, opts?: { once?: boolean }) => void;
}

const g = globalThis as unknown as OnlineGlobals;

/** False only when the browser says it is offline (`navigator.onLine === false`). */
export function defaultIsOnline(): boolean {
  return g.navigator?.onLine !== false;
}

/** Resolves on the window's next `online` event, or at once when there is no such event. */
export function defaultWaitOnline(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof g.addEventListener !== "function") return resolve();
    g.addEventListener("online", () => resolve(), { once: true });
  });
}
